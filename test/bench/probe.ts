// Starting and driving runner-probe.ts: one runner per OS process, as in production.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { BENCH_DIR, type Scope } from './bench-support.ts';
import type { ProbeStats } from './runner-probe.ts';

export type { ProbeStats } from './runner-probe.ts';

const PROBE = path.join(BENCH_DIR, 'runner-probe.ts');

export interface Probe {
  child: ChildProcess;
  logFile: string;
  /** Run one watcher round now (for probes started with watch: false). */
  poll(): Promise<ProbeStats>;
  stats(): Promise<ProbeStats>;
  /** Stats now, and start a new event-loop delay window. */
  window(): Promise<ProbeStats>;
  stop(): Promise<ProbeStats | null>;
}

export interface ProbeOptions {
  watch?: boolean;
  /** The watcher lists file:// remotes with `git ls-remote` instead of reading them in process. */
  lsRemote?: boolean;
  /** Write a V8 CPU profile into this directory when the probe exits (node --cpu-prof). */
  cpuProfDir?: string;
}

/** Fork a runner process for `configFile`; resolves once the runner has started. Stopped by the scope. */
export async function startProbe(scope: Scope, configFile: string, options: ProbeOptions = {}): Promise<Probe> {
  const logFile = path.join(path.dirname(configFile), `${path.basename(configFile, '.yaml')}.log`);
  // BENCH_PROFILE=DIR profiles every runner process of the run.
  const profDir = options.cpuProfDir ?? (process.env['BENCH_PROFILE'] ? path.resolve(process.env['BENCH_PROFILE']) : undefined);
  const execArgv = ['--import', 'tsx', ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])];
  const child = fork(PROBE, [configFile, logFile, ...(options.watch === false ? ['--no-watch'] : []), ...(options.lsRemote ? ['--ls-remote'] : [])], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let nextId = 1;
  const pending = new Map<number, { resolve(s: ProbeStats): void; reject(e: Error): void }>();
  let stopped = false;
  child.on('message', (m: { id?: number; ok?: boolean; stats?: ProbeStats; error?: string }) => {
    if (m.id === undefined) return;
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.ok) p?.resolve(m.stats!);
    else p?.reject(new Error(`runner probe: ${m.error}`));
  });
  child.on('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`runner probe exited (${code ?? signal})`));
    pending.clear();
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', (m: { ready?: boolean }) => (m.ready ? resolve() : reject(new Error('runner probe did not start'))));
    child.once('exit', (code) => reject(new Error(`runner probe exited ${code} before it was ready; see ${logFile}`)));
  });
  const request = (cmd: 'poll' | 'stats' | 'window' | 'stop') =>
    new Promise<ProbeStats>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ id, cmd });
    });
  const probe: Probe = {
    child,
    logFile,
    poll: () => request('poll'),
    stats: () => request('stats'),
    window: () => request('window'),
    async stop() {
      if (stopped || child.exitCode !== null || child.signalCode !== null) return null;
      stopped = true;
      const exited = new Promise((r) => child.once('exit', r));
      const last = await request('stop').catch(() => null);
      await exited;
      return last;
    },
  };
  scope.defer(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      await Promise.race([probe.stop(), new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
  return probe;
}

/** CPU and memory between two stats snapshots: % of one core for the process and for its children. */
export function cpuBetween(a: ProbeStats, b: ProbeStats) {
  const wallUs = (b.atMs - a.atMs) * 1000;
  return {
    wallMs: b.atMs - a.atMs,
    processPct: ((b.userUs - a.userUs + (b.systemUs - a.systemUs)) / wallUs) * 100,
    childrenPct: ((b.childrenUs - a.childrenUs) / wallUs) * 100,
  };
}
