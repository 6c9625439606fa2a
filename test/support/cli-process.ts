// The `airlock` command as its own OS process, as an operator runs it: `node src/cli/bin.js …`, with no
// terminal attached (stdin and stdout are pipes). A test runs the code it reads: the built dist/ only when
// it is newer than every source (`npm test` builds first), else the sources through tsx
// (AIRLOCK_FROM_SOURCE=1), never a dist/ built earlier. test/cli/build.test.ts tests the launcher itself.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = path.join(ROOT, 'src/cli/bin.js');
/** Whether dist/ holds a build newer than every file under src/ (the launcher's own test, bin.js). */
function buildIsCurrent(): boolean {
  let startedAt: unknown;
  try {
    startedAt = (JSON.parse(readFileSync(path.join(ROOT, 'dist/build.json'), 'utf8')) as { startedAt?: unknown }).startedAt;
  } catch {
    return false;
  }
  if (typeof startedAt !== 'number') return false;
  const newer = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((e) => (e.isDirectory() ? newer(path.join(dir, e.name)) : e.isFile() && statSync(path.join(dir, e.name)).mtimeMs > startedAt));
  return !newer(path.join(ROOT, 'src'));
}

/** The environment every `airlock` process of the tests gets: the current build's quicker start, or the sources. */
export const FROM_SOURCE: Record<string, string> = buildIsCurrent() ? {} : { AIRLOCK_FROM_SOURCE: '1' };

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Written to stdin, which is then closed. */
  input?: string;
  timeoutMs?: number;
}

/** Start `airlock ARGS` without waiting for it. */
export function spawnCli(args: string[], opts: CliOptions = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...FROM_SOURCE, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Run `airlock ARGS` to its end; kills it after `timeoutMs` (default 120 s) so a hang fails the test. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const child = spawnCli(args, opts);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.end(opts.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Run a shell command line with a pseudo-terminal (util-linux script), so the CLI sees a TTY. */
export function withTerminal(command: string, env: Record<string, string | undefined> = {}) {
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, ...FROM_SOURCE, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** The shell command line of `airlock ARGS --config FILE`. */
export function cliLine(file: string, ...args: string[]): string {
  return `${process.execPath} ${BIN} ${args.join(' ')} --config ${file}`;
}
