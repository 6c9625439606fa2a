// The ways of running `airlock` that the start-up and memory benchmarks compare, and a runner started as
// its own `airlock start` process whose memory is read from /proc:
//   before  the tree before issue 17's start-up work (BASE_COMMIT), through its own bin.js: tsx
//           registered at run time and every command's modules imported up front;
//   source  today's sources through tsx (AIRLOCK_FROM_SOURCE=1): the lazy imports, without the build;
//   build   today's dist/, built when the benchmark starts: what `npm ci` installs.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFile, realpath, symlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, sleep, waitUntil, type Scope } from './bench-support.ts';

export const BASE_COMMIT = '20a0ecb';

export interface Variant {
  name: 'before' | 'source' | 'build';
  bin: string;
  env: Record<string, string | undefined>;
}

/** The tree at BASE_COMMIT with node_modules linked, or null when this clone does not have that commit. */
async function checkoutBefore(scope: Scope): Promise<string | null> {
  const dir = await scope.tempDir('before');
  try {
    await promisify(execFile)('sh', ['-c', 'git -C "$1" archive "$2" package.json src runners test/doubles | tar -x -C "$3"', 'sh', REPO_ROOT, BASE_COMMIT, dir]);
  } catch {
    return null;
  }
  await symlink(await realpath(path.join(REPO_ROOT, 'node_modules')), path.join(dir, 'node_modules'));
  return dir;
}

/** Build dist/ from today's sources, and the variants to compare (no `before` when the commit is missing). */
export async function prepareVariants(scope: Scope, names: Array<Variant['name']> = ['before', 'source', 'build']): Promise<Variant[]> {
  await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, 'deploy/build.mjs'), '--quiet']);
  const bin = path.join(REPO_ROOT, 'src/cli/bin.js');
  const beforeDir = names.includes('before') ? await checkoutBefore(scope) : null;
  const all: Variant[] = [
    ...(beforeDir ? [{ name: 'before' as const, bin: path.join(beforeDir, 'src/cli/bin.js'), env: { AIRLOCK_FROM_SOURCE: undefined } }] : []),
    { name: 'source', bin, env: { AIRLOCK_FROM_SOURCE: '1' } },
    // The launcher must choose dist/: a stale or missing build would say so on stderr, which fails the run.
    { name: 'build', bin, env: { AIRLOCK_FROM_SOURCE: undefined } },
  ];
  return all.filter((v) => names.includes(v.name));
}

export interface ProcMemory {
  /** VmRSS now, MB (10⁶ bytes). */
  rssMB: number;
  /** VmHWM: the peak RSS over the process's life so far, MB. */
  hwmMB: number;
}

export async function procMemory(pid: number): Promise<ProcMemory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMB: (kib('VmRSS') * 1024) / 1e6, hwmMB: (kib('VmHWM') * 1024) / 1e6 };
}

export interface RunnerProcess {
  child: ChildProcess;
  /** From spawn to the `runner started` log line, ms. */
  readyMs: number;
  /** The runner's stdout and stderr, last 20 KB. */
  output(): string;
  stop(): Promise<void>;
}

/** `airlock start --config FILE` as its own process, resolved once it logged `runner started`; stopped by the scope too. */
export async function startRunnerProcess(scope: Scope, v: Variant, configFile: string, nodeFlags: string[] = []): Promise<RunnerProcess> {
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeFlags, v.bin, 'start', '--config', configFile], { env: { ...process.env, ...v.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise((r) => child.once('exit', r));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(20_000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  scope.defer(stop);
  await waitUntil(`the ${v.name} runner to start`, async () => out.includes('"msg":"runner started"') || child.exitCode !== null, 120_000);
  if (child.exitCode !== null) throw new Error(`the ${v.name} runner exited ${child.exitCode}: ${out.slice(-1000)}`);
  return { child, readyMs: performance.now() - started, output: () => out, stop };
}
