// Plumbing every benchmark shares: what a benchmark returns, the machine it ran on, statistics, a runner
// config written like an operator's, and a scope that tears down every prefix, directory and process.
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { constants as fsConstants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { loadConfig, type LoadedConfig } from '../../src/config/load.ts';
import { DOUBLE, sandboxConfigForTests } from '../support/engine-under-test.ts';
import { knobSink } from '../support/knob-sink.ts';
import { deletePrefix, REDIS_URL } from '../support/harness.ts';
import { git } from '../git-fixtures.ts';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(BENCH_DIR, '../..');

/** One line of the results table. `met` is null when the figure has no goal. */
export interface Figure {
  figure: string;
  value: number | null;
  unit: string;
  goal?: string;
  met?: boolean | null;
}

export interface BenchResult {
  figures: Figure[];
  /** Raw samples and settings, kept in results.json for anyone who wants to recompute. */
  data?: Record<string, unknown>;
  notes?: string[];
}

export interface Benchmark {
  name: string;
  title: string;
  run(scope: Scope): Promise<BenchResult>;
}

/** The machine a run happened on, written into results.json beside the figures. */
export function machineInfo() {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
}

/** Nearest-rank percentile of `values` (p in 0..100). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export const median = (values: number[]): number => percentile(values, 50);

/** Milliseconds since the epoch with sub-millisecond precision, on the clock Date uses. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Round to `digits` decimals for the table and results.json. */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Poll `check` until it returns a value; throws after `timeoutMs` (a stuck benchmark, never a slow one). */
export async function waitUntil<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 120_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`benchmark stuck: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Everything a benchmark creates is registered here and removed when it ends, whatever happened. */
export class Scope {
  readonly #cleanups: Array<() => Promise<unknown>> = [];

  constructor(readonly name: string) {}

  defer(fn: () => Promise<unknown>): void {
    this.#cleanups.push(fn);
  }

  /** A Redis key prefix owned by this benchmark; deleted (never flushed) at the end. */
  prefix(label = this.name): string {
    // The config allows 64 characters.
    const prefix = `airlock-bench-${label.slice(0, 24)}-${randomBytes(6).toString('hex')}`;
    this.defer(() => deletePrefix(prefix));
    return prefix;
  }

  async tempDir(label = this.name): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), `airlock-bench-${label}-`));
    // BENCH_KEEP=1 keeps directories (runner logs, job dirs) for a look after a failure.
    if (process.env['BENCH_KEEP'] !== '1') this.defer(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  /** Run the cleanups, newest first; one failing does not stop the others. */
  async close(): Promise<void> {
    while (this.#cleanups.length > 0) {
      const fn = this.#cleanups.pop()!;
      await fn().catch((err: unknown) => process.stderr.write(`bench cleanup (${this.name}) failed: ${String(err)}\n`));
    }
  }
}

export interface BenchRepo {
  name: string;
  url: string;
  pollInterval?: string;
}

export interface BenchConfigInput {
  runnerId: string;
  dataDir: string;
  prefix: string;
  repos: BenchRepo[];
  engine: { binary: string; env?: Record<string, string> };
  planConcurrency?: number;
  appliesEnabled?: boolean;
  /** The `approval` section; the terminal channel when absent. */
  approval?: Record<string, unknown>;
  /** false: `engine.sandbox: none`; default: the real sandbox, as the suite runs it (AIRLOCK_TEST_SANDBOX=none turns it off). */
  sandbox?: boolean;
  /** false: `engine.sandbox.sessions: false`, one sandbox per engine command (the before side of a pair). */
  sessions?: boolean;
  /** The `metrics` section (e.g. `{ listen: '127.0.0.1:0' }`); absent: metrics off, as by default. */
  metrics?: Record<string, unknown>;
  /** The `traces` section (e.g. `{ otlp: { endpoint } }`); absent: traces off, as by default. */
  traces?: Record<string, unknown>;
}

/** The terraform double, with node on its PATH. */
export function doubleEngine(env: Record<string, string> = {}) {
  return { binary: DOUBLE, env };
}

/** A runner config as an operator writes it, saved beside the data dir and read by the real loader. */
export async function writeBenchConfig(input: BenchConfigInput): Promise<LoadedConfig> {
  const suite = sandboxConfigForTests();
  const sandbox = input.sandbox === false || suite === 'none' ? 'none' : { readOnlyPaths: [...suite.readOnlyPaths, BENCH_DIR], ...(input.sessions === false ? { sessions: false } : {}) };
  const doc = {
    runner: { id: input.runnerId, dataDir: input.dataDir },
    redis: { url: REDIS_URL, prefix: input.prefix },
    engine: {
      kind: 'terraform',
      binary: input.engine.binary,
      path: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
      // A sandboxed double hands its invocation log to the sink of this process.
      env: { ...(sandbox === 'none' ? {} : { AIRLOCK_DOUBLE_SINK: knobSink().socket }), ...input.engine.env },
      timeouts: { init: '2m', plan: '2m', apply: '2m' },
      lockTimeout: '5s',
      sandbox,
    },
    repos: input.repos.map((r) => ({ name: r.name, url: r.url, pollInterval: r.pollInterval ?? '1s', refs: ['refs/pull/*/head'], workspaces: [{ name: 'default', dir: '.' }] })),
    approval: input.approval ?? { channel: 'terminal', ttl: '1h' },
    applies: { enabled: input.appliesEnabled ?? true },
    plans: { concurrency: input.planConcurrency ?? 2, attempts: 3, backoff: '1s' },
    queue: { lockDuration: '30s', stalledInterval: '30s' },
    ...(input.metrics ? { metrics: input.metrics } : {}),
    ...(input.traces ? { traces: input.traces } : {}),
  };
  const file = path.join(path.dirname(input.dataDir), `${input.runnerId}-runner.yaml`);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, stringify(doc));
  return loadConfig(file);
}

/** Engine invocations the double recorded (AIRLOCK_DOUBLE_LOG), with its high-resolution start time. */
export interface DoubleInvocation {
  argv: string[];
  cwd: string;
  pid: number;
  startedAtMs: number;
  atMs: number;
}

export async function readDoubleLog(file: string): Promise<DoubleInvocation[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  // The double may be mid-append: only newline-terminated lines are complete.
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as DoubleInvocation);
}

/**
 * Where the zero-time engine records its calls (ZERO_ENGINE_LOG): a FIFO in the knob sink's directory, which
 * every bench sandbox sees read-only. A sandboxed engine cannot write a file of the benchmark's, but it can
 * write into a FIFO on a read-only mount; this process holds it open (read-write, so it never sees an end)
 * and collects the lines. Lines are far under PIPE_BUF, so each write arrives whole.
 */
export async function engineLogFifo(scope: Scope, label: string): Promise<{ path: string; lines(): string[] }> {
  const fifo = path.join(knobSink().dir, `zero-engine-${label}-${randomBytes(4).toString('hex')}.fifo`);
  await new Promise<void>((resolve, reject) => execFile('mkfifo', ['-m', '0666', fifo], (err) => (err ? reject(err) : resolve())));
  await chmod(fifo, 0o666);
  const fd = openSync(fifo, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
  const socket = new Socket({ fd, readable: true, writable: false });
  const lines: string[] = [];
  let partial = '';
  socket.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  scope.defer(async () => {
    socket.destroy();
    await rm(fifo, { force: true });
  });
  return { path: fifo, lines: () => [...lines] };
}

/** The zero-time /bin/sh engine, copied out executable (a checkout may not keep the mode bit). */
export async function zeroEngine(dir: string): Promise<string> {
  const target = path.join(dir, 'zero-engine.sh');
  await cp(path.join(BENCH_DIR, 'zero-engine.sh'), target);
  await chmod(target, 0o755);
  return target;
}

/**
 * A bare repository holding `prs` commits, one per `refs/pull/N/head` (N = 1..prs), over one tree of
 * `files`; then `copies` copies of it, made with a file copy (git is the slow part, not the disk).
 */
export async function makeRepos(root: string, opts: { copies: number; prs: number; files: Record<string, string> }): Promise<{ repos: Array<{ name: string; url: string }>; heads: Array<{ ref: string; pr: number; sha: string }> }> {
  const template = path.join(root, 'template.git');
  await git(['init', '--bare', '--quiet', template]);
  const env = { GIT_DIR: template };
  const lines: string[] = [];
  for (const [name, content] of Object.entries(opts.files)) {
    const blob = (await git(['hash-object', '-w', '--stdin'], { cwd: template, env, input: content })).trim();
    lines.push(`100644 blob ${blob}\t${name}`);
  }
  const tree = (await git(['mktree'], { cwd: template, env, input: `${lines.join('\n')}\n` })).trim();
  const heads = [];
  for (let pr = 1; pr <= opts.prs; pr++) {
    const date = `${1_700_000_000 + pr} +0000`;
    const sha = (await git(['commit-tree', tree, '-m', `pr ${pr}`], { cwd: template, env: { ...env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } })).trim();
    heads.push({ ref: `refs/pull/${pr}/head`, pr, sha });
  }
  await git(['update-ref', '--stdin'], { cwd: template, env, input: heads.map((h) => `update ${h.ref} ${h.sha}\n`).join('') });
  const repos = [];
  for (let i = 0; i < opts.copies; i++) {
    const name = `repo-${String(i).padStart(3, '0')}`;
    const dir = path.join(root, `${name}.git`);
    await cp(template, dir, { recursive: true });
    repos.push({ name, url: `file://${dir}` });
  }
  return { repos, heads };
}
