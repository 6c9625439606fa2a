// A redis-server of the test's own, on a free loopback port, keeping nothing on disk: for tests that stop
// Redis under a runner, or need a setting the shared Redis must never be given (an eviction policy).
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, redisAnswers as answers } from '../../src/cli/demo-env.ts';

export { freePort };

export interface PrivateRedis {
  url: string;
  port: number;
  /** Stop the server (SIGTERM; it saves nothing). */
  stop(): Promise<void>;
  /** Start it again on the same port. */
  start(): Promise<void>;
}

/** Start a private redis-server; `extraArgs` such as `['--maxmemory-policy', 'allkeys-lru']`. */
export async function startPrivateRedis(extraArgs: string[] = []): Promise<PrivateRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  const handle: PrivateRedis = {
    url,
    port,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', '/tmp', ...extraArgs], { stdio: 'ignore' });
      await new Promise<void>((resolve, reject) => {
        child!.once('error', reject);
        child!.once('spawn', () => resolve());
      });
      for (let i = 0; i < 100 && !(await answers(url)); i++) await new Promise((r) => setTimeout(r, 50));
      if (!(await answers(url))) throw new Error(`private redis-server on port ${port} did not answer`);
    },
    async stop() {
      const c = child;
      child = null;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    },
  };
  await handle.start();
  return handle;
}
