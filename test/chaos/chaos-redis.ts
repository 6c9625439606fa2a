// The campaign's own redis-server on a spare port, with the persistence a scenario asks for: AOF with
// `appendfsync always` or `everysec`, or none at all (a crash then loses every key, as on a misconfigured
// host). `crash()` is SIGKILL: what AOF promises is tested against a crash, not a polite shutdown.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, redisAnswers } from '../../src/cli/demo-env.ts';
import { trackChild } from './reaper.ts';

export type Persistence = 'aof-always' | 'aof-everysec' | 'none';

export interface ChaosRedis {
  url: string;
  crash(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly up: boolean;
}

export async function startChaosRedis(persistence: Persistence): Promise<ChaosRedis> {
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-chaos-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  const persist =
    persistence === 'none'
      ? ['--save', '', '--appendonly', 'no']
      : ['--save', '', '--appendonly', 'yes', '--appendfsync', persistence === 'aof-always' ? 'always' : 'everysec'];
  let child: ChildProcess | null = null;

  async function signal(sig: NodeJS.Signals): Promise<void> {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(sig);
    await exited;
  }

  const handle: ChaosRedis = {
    url,
    get up() {
      return child !== null;
    },
    async start() {
      child = trackChild(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...persist], { stdio: 'ignore' }));
      await new Promise<void>((resolve, reject) => {
        child!.once('error', reject);
        child!.once('spawn', () => resolve());
      });
      for (let i = 0; i < 200 && !(await redisAnswers(url)); i++) await new Promise((r) => setTimeout(r, 25));
      if (!(await redisAnswers(url))) throw new Error(`chaos redis-server on port ${port} did not answer`);
    },
    crash: () => signal('SIGKILL'),
    async stop() {
      await signal('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
  await handle.start();
  return handle;
}
