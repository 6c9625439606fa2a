// The one place that spawns git for the runner. Every call gets the same hardened configuration and a
// minimal environment, a hard deadline, and an optional cap on what git may print. Results come back as a
// plain outcome; callers translate them into their own domain errors. git is started with node's spawn
// directly: a runner starts git for every watched remote at every poll, and a wrapper library's own
// work per call (argument scanning, task queue, plugins) cost as much again as the spawn itself.

import { spawn, type ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';

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

const CONFIG_ARGS: readonly string[] = HARDENED_GIT_CONFIG.flatMap((kv) => ['-c', kv]);

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

/** Extra time after the deadline for git to die of SIGINT before we stop waiting for it (then SIGKILL). */
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

/** git with the hardened config, `args` after it, the minimal environment, in `command.cwd`; stdio piped. */
export function spawnGit(command: Pick<GitCommand, 'args' | 'cwd' | 'gitDir' | 'ceilingDir'>, stdin: 'pipe' | 'ignore'): ChildProcess {
  return spawn('git', [...CONFIG_ARGS, ...command.args], { cwd: command.cwd, env: buildGitEnv(command), stdio: [stdin, 'pipe', 'pipe'] });
}

/** Run one hardened git command and report what happened; never throws for git's own failures. */
export async function runGit(command: GitCommand): Promise<GitOutcome> {
  const failed = (stderr: string): GitOutcome => ({ ok: false, stdout: Buffer.alloc(0), stderr, exitCode: null, timedOut: false, overflowed: false });
  if (!(await stat(command.cwd).then((s) => s.isDirectory(), () => false))) return failed(`cannot run git in ${command.cwd}: the directory does not exist`);
  const child = spawnGit(command, command.stdin === undefined ? 'ignore' : 'pipe');
  const stdoutChunks: Buffer[] = [];
  const stderrChunks: Buffer[] = [];
  let stdoutBytes = 0;
  let timedOut = false;
  let overflowed = false;
  let grace: NodeJS.Timeout | undefined;
  const stop = (): void => {
    if (grace) return;
    child.kill('SIGINT');
    grace = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
  };
  child.stdout!.on('data', (chunk: Buffer) => {
    if (overflowed) return;
    stdoutBytes += chunk.length;
    if (command.maxStdoutBytes !== undefined && stdoutBytes > command.maxStdoutBytes) {
      overflowed = true;
      stop();
      return;
    }
    stdoutChunks.push(chunk);
  });
  child.stderr!.on('data', (chunk: Buffer) => stderrChunks.push(chunk));
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(command.stdin);
  const deadline = setTimeout(() => {
    timedOut = true;
    stop();
  }, command.timeoutMs);
  // 'close' waits for git's pipes; a grandchild (ssh, a remote helper) can keep them open after git is
  // gone, so past the deadline and its grace the exit alone is enough.
  const ended = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
    child.once('exit', (code) => {
      if (timedOut || overflowed) setTimeout(() => resolve({ code }), KILL_GRACE_MS).unref();
    });
  });
  clearTimeout(deadline);
  clearTimeout(grace);
  const exitCode = ended.error ? null : ended.code;
  const ok = !ended.error && !timedOut && !overflowed && exitCode === 0;
  const stderr = stderrChunks.length > 0 ? Buffer.concat(stderrChunks).toString('utf8') : (ended.error?.message ?? '');
  return { ok, stdout: Buffer.concat(stdoutChunks), stderr, exitCode, timedOut, overflowed };
}

function buildGitEnv(command: Pick<GitCommand, 'gitDir' | 'ceilingDir'>): Record<string, string> {
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
