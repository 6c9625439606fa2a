// Runner processes as an operator starts them (`airlock start --config FILE`, from the campaign's bundle
// of src/, runner-bundle.ts), each with its own runner id and data dir, all on one Redis. A slot is one
// runner id; it can be killed and started again. In a world with small disks, each slot's audit
// directory is a tmpfs of its own, so a fault can fill it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chaosConfig, toYaml } from './support.ts';
import { mountSmallDisk, type SmallDisk } from '../support/small-disk.ts';
import { trackChild, trackMount } from './reaper.ts';
import { runnerEntry } from './runner-bundle.ts';

export interface SlotSpec {
  root: string;
  remoteUrl: string;
  redisUrl: string;
  prefix: string;
  engineEnv: Record<string, string>;
  /** The runner config's `approval` section (ntfy worlds), else the terminal channel. */
  approval?: Record<string, unknown>;
  /** Workspaces with credentials (Vault worlds). */
  workspaces?: Array<{ name: string; dir: string } & Record<string, unknown>>;
  vault?: Record<string, unknown>;
  /** Mount a small tmpfs as the audit directory. */
  disk?: boolean;
}

export class RunnerSlot {
  child: ChildProcess | null = null;
  /** The tail of what the process printed, for a failing iteration's report. */
  output = '';
  /** Every log line's `event` field, counted (for checks that count notices and warnings). */
  readonly events = new Map<string, number>();
  starts = 0;
  #partial = '';

  constructor(
    readonly id: string,
    readonly file: string,
    readonly dataDir: string,
    readonly disk: SmallDisk | null,
  ) {}

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  #hear(text: string): void {
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = /"event":"([a-z_.]+)"/.exec(line);
      if (m) this.events.set(m[1]!, (this.events.get(m[1]!) ?? 0) + 1);
    }
  }

  /** Start the runner; resolves true once it logged `runner started`, false if it exited first or took too long. */
  async start(timeoutMs = 90_000): Promise<boolean> {
    const child = trackChild(spawn(process.execPath, [await runnerEntry(), 'start', '--config', this.file], { stdio: ['ignore', 'pipe', 'pipe'] }));
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
        this.#hear(d.toString());
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
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const disk = spec.disk ? trackMount(await mountSmallDisk(path.join(dataDir, 'audit'), 16 * 1024 * 1024)) : null;
  const doc = chaosConfig({ runnerId: id, remoteUrl: spec.remoteUrl, dataDir, redisUrl: spec.redisUrl, prefix: spec.prefix, engineEnv: spec.engineEnv, ...(spec.workspaces ? { workspaces: spec.workspaces } : {}) });
  if (spec.approval) doc['approval'] = spec.approval;
  if (spec.vault) doc['vault'] = spec.vault;
  const file = path.join(spec.root, id, 'runner.yaml');
  await writeFile(file, toYaml(doc));
  return new RunnerSlot(id, file, dataDir, disk);
}
