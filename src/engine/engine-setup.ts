// What the runner does about the engine's wall when it starts: say loudly when there is none, and make
// sure the provider mirror exists (runner-owned, world-readable: it holds only public provider packages).
import { chmod, mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { RunnerConfig } from '../config/schema.ts';
import { providerMirrorDir, SANDBOX_OFF_WARNING } from './config.ts';

/** Start-up work for the engine sandbox; resolves when plans may run. */
export async function prepareEngineSandbox(config: RunnerConfig, log: Logger): Promise<void> {
  if (config.engine.sandbox === 'none') {
    log.warn({ sandbox: 'none' }, SANDBOX_OFF_WARNING);
    return;
  }
  const mirror = providerMirrorDir(config.engine, config.runner.dataDir);
  // A runner with UMask=0077 would make it unreadable to the sandbox users: set the mode explicitly.
  if (await mkdir(mirror, { recursive: true, mode: 0o755 })) await chmod(mirror, 0o755);
}
