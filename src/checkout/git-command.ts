// The one place that spawns git (through simple-git) for the runner. Every call gets the same hardened
// configuration and a minimal environment, a hard deadline, and an optional cap on what git may print.
// Results come back as a plain outcome; callers translate them into their own domain errors.

import { simpleGit, type SimpleGitOptions } from 'simple-git';

/**
 * `-c` settings on every git command. Command-line config wins over the repository's, the user's and the
 * system's, so none of those can turn hooks, filters, credential helpers or the `ext::` transport back on.
 */
export const HARDENED_GIT_CONFIG: readonly string[] = [
  'protocol.ext.allow=never',
  'core.hooksPath=/dev/null',
  'core.fsmonitor=false',
  'credential.helper=',
  'filter.lfs.smudge=',
  'filter.lfs.process=',
  'filter.lfs.required=false',
  'submodule.recurse=false',
  'gc.auto=0',
  'maintenance.auto=false',
];

// simple-git refuses the keys above unless told they are intended; we set each to its safe value, and no
// other argument of ours can carry config, so allowing exactly these categories opens nothing.
const INTENDED_UNSAFE: SimpleGitOptions['unsafe'] = {
  allowUnsafeProtocolOverride: true,
  allowUnsafeHooksPath: true,
  allowUnsafeFsMonitor: true,
  allowUnsafeCredentialHelper: true,
  allowUnsafeFilter: true,
};

/** Variables of the runner's own environment that git may see: enough to find programs, keys and proxies. */
const PASSED_ENV = [
  'PATH',
  'HOME',
  'TMPDIR',
  'USER',
  'LOGNAME',
  'SSH_AUTH_SOCK',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
] as const;

const GIT_ENV_WE_SET = [
  'GIT_TERMINAL_PROMPT',
  'GIT_LFS_SKIP_SMUDGE',
  'GIT_NO_REPLACE_OBJECTS',
  'GIT_DIR',
  'GIT_CEILING_DIRECTORIES',
] as const;

/** Extra time after the deadline for git to die of SIGINT before we stop waiting for it. */
const KILL_GRACE_MS = 2_000;

export interface GitCommand {
  /** The subcommand and its arguments; never an attacker-controlled string in option position. */
  args: string[];
  cwd: string;
  /** Pin the repository so git never discovers another one above `cwd`. */
  gitDir?: string;
  /** Stop git from searching for a repository above this directory (for commands run outside one). */
  ceilingDir?: string;
  timeoutMs: number;
  stdin?: string;
  /** Kill git once stdout exceeds this many bytes. */
  maxStdoutBytes?: number;
}

export interface GitOutcome {
  ok: boolean;
  stdout: Buffer;
  stderr: string;
  exitCode: number | null;
  timedOut: boolean;
  /** stdout went over `maxStdoutBytes`; git was killed and `stdout` holds only the first bytes. */
  overflowed: boolean;
}

/** Run one hardened git command and report what happened; never throws for git's own failures. */
export async function runGit(command: GitCommand): Promise<GitOutcome> {
  const controller = new AbortController();
  const stdoutChunks: Buffer[] = [];
  const stderrChunks: Buffer[] = [];
  const streams: NodeJS.ReadableStream[] = [];
  let stdoutBytes = 0;
  let exitCode: number | null = null;
  let timedOut = false;
  let overflowed = false;

  const options: Partial<SimpleGitOptions> = {
    baseDir: command.cwd,
    config: [...HARDENED_GIT_CONFIG],
    unsafe: INTENDED_UNSAFE,
    allowEnvironment: [...GIT_ENV_WE_SET],
    abort: controller.signal,
    maxConcurrentProcesses: 1,
    errors(error, result) {
      exitCode = result.exitCode;
      return error;
    },
  };
  if (command.stdin !== undefined) {
    const stdin = command.stdin;
    options.input = () => stdin;
  }

  let git: ReturnType<typeof simpleGit>;
  try {
    git = simpleGit(options);
  } catch (err) {
    // simple-git refuses up front, for example when `cwd` does not exist.
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, stdout: Buffer.alloc(0), stderr: message, exitCode: null, timedOut: false, overflowed: false };
  }
  git
    .env(buildGitEnv(command))
    .outputHandler((_binary, stdout, stderr) => {
      streams.push(stdout, stderr);
      stdout.on('data', (chunk: Buffer) => {
        if (overflowed) return;
        stdoutBytes += chunk.length;
        if (command.maxStdoutBytes !== undefined && stdoutBytes > command.maxStdoutBytes) {
          overflowed = true;
          controller.abort();
          return;
        }
        stdoutChunks.push(chunk);
      });
      stderr.on('data', (chunk: Buffer) => {
        stderrChunks.push(chunk);
      });
    });

  let deadline: NodeJS.Timeout | undefined;
  let grace: NodeJS.Timeout | undefined;
  const abandoned = new Promise<'abandoned'>((resolve) => {
    deadline = setTimeout(() => {
      timedOut = true;
      controller.abort();
      // A grandchild (ssh, a remote helper) can keep the pipes open after git is gone.
      grace = setTimeout(() => {
        for (const stream of streams) (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
        resolve('abandoned');
      }, KILL_GRACE_MS);
    }, command.timeoutMs);
  });

  let failed = false;
  let rejection = '';
  try {
    await Promise.race([git.raw(command.args), abandoned]);
  } catch (err) {
    failed = true;
    rejection = err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(deadline);
    clearTimeout(grace);
  }

  const ok = !failed && !timedOut && !overflowed && (exitCode === null || exitCode === 0);
  return {
    ok,
    stdout: Buffer.concat(stdoutChunks),
    stderr: stderrChunks.length > 0 ? Buffer.concat(stderrChunks).toString('utf8') : rejection,
    exitCode,
    timedOut,
    overflowed,
  };
}

function buildGitEnv(command: GitCommand): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of PASSED_ENV) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  // Stable, English messages: callers recognise a few of git's errors by their text.
  env.LC_ALL = 'C';
  env.LANG = 'C';
  env.GIT_TERMINAL_PROMPT = '0';
  env.GIT_LFS_SKIP_SMUDGE = '1';
  env.GIT_NO_REPLACE_OBJECTS = '1';
  if (command.gitDir !== undefined) env.GIT_DIR = command.gitDir;
  if (command.ceilingDir !== undefined) env.GIT_CEILING_DIRECTORIES = command.ceilingDir;
  return env;
}

/**
 * git's own words for a failure, trimmed to a size that fits in an error message. A remote can put text
 * into git's stderr (`remote: …`), so control characters other than newlines are shown escaped.
 */
export function describeGitFailure(outcome: GitOutcome, maxChars = 800): string {
  const text = outcome.stderr.trim();
  if (text === '') return outcome.exitCode === null ? 'git failed without a message' : `git exited with code ${outcome.exitCode}`;
  const cut = text.length > maxChars ? `${text.slice(0, maxChars)}…` : text;
  // eslint-disable-next-line no-control-regex
  return cut.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/gi;

/** Hide the user and password part of every URL in `text` (tokens often travel there). */
export function maskUserinfo(text: string): string {
  return text.replace(URL_USERINFO, '$1***@');
}

/** Refuse a remote URL that git could read as an option or that carries control characters. */
export function isUsableRemoteUrl(url: string): boolean {
  // eslint-disable-next-line no-control-regex
  return url.length > 0 && !url.startsWith('-') && !/[\u0000-\u001f\u007f]/.test(url);
}
