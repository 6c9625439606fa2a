// Runner processes as an operator starts them: `node src/cli/bin.js start --config FILE`, each with its own
// runner id and data dir, all on one Redis. A slot is one runner id; it can be killed and started again.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { configYaml } from '../support/harness.ts';
import { runnerEntry } from './runner-bundle.ts';

export interface SlotSpec {
  root: string;
  remoteUrl: string;
  redisUrl: string;
  prefix: string;
  engineEnv: Record<string, string>;
}

export class RunnerSlot {
  child: ChildProcess | null = null;
  /** The tail of what the process printed, for a failing iteration's report. */
  output = '';
  starts = 0;

  constructor(
    readonly id: string,
    readonly file: string,
    readonly dataDir: string,
  ) {}

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Start the runner; resolves true once it logged `runner started`, false if it exited first or took too long. */
  async start(timeoutMs = 90_000): Promise<boolean> {
    const child = spawn(process.execPath, [await runnerEntry(), 'start', '--config', this.file], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.starts++;
    let seen = '';
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-200_000);
    };
    return new Promise((resolve) => {
      // A runner that never got ready is stopped, so a second start cannot orphan it.
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(false);
      }, timeoutMs);
      child.stdout!.on('data', (d: Buffer) => {
        keep(d);
        seen += d.toString();
        if (seen.includes('"runner started"')) {
          clearTimeout(timer);
          seen = '';
          resolve(true);
        }
      });
      child.stderr!.on('data', keep);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
  }

  /** Send `signal` and wait for the exit; a SIGTERM that is not obeyed within `graceMs` becomes a SIGKILL. */
  async kill(signal: NodeJS.Signals, graceMs = 20_000): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/** Write the config of runner `id` (its own data dir under `root`) and return its slot. */
export async function makeSlot(spec: SlotSpec, id: string): Promise<RunnerSlot> {
  const dataDir = path.join(spec.root, id, 'data');
  await mkdir(path.dirname(dataDir), { recursive: true });
  const doc = parse(configYaml({ runnerId: id, remoteUrl: spec.remoteUrl, dataDir, prefix: spec.prefix, engineEnv: spec.engineEnv })) as Record<string, Record<string, unknown>>;
  doc['redis']!['url'] = spec.redisUrl;
  // The double needs no network: no slirp4netns per engine process (the sandbox is otherwise the same).
  doc['engine']!['network'] = 'none';
  doc['log'] = { level: process.env['CHAOS_LOG_LEVEL'] ?? 'info' };
  const file = path.join(spec.root, id, 'runner.yaml');
  await writeFile(file, stringify(doc));
  return new RunnerSlot(id, file, dataDir);
}
