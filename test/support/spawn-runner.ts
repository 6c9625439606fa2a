// Runners as separate OS processes (test/support/runner-process.ts), for kill and multi-runner tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUNNER = fileURLToPath(new URL('./runner-process.ts', import.meta.url));

/** Start a runner process on `configFile`; resolves once it is ready, rejects if it exits first. */
export function spawnRunner(configFile: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', RUNNER, configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('RUNNER-READY')) resolve(child);
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`runner exited ${code}: ${out}`)));
  });
}

/** SIGTERM a runner process (if still running) and wait for it to exit. */
export async function stopRunner(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}
