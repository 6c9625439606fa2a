// What the runner does about the engine's wall when it starts: say loudly when there is none, and make
// sure the provider mirror exists (runner-owned, world-readable: it holds only public provider packages).
import { ensureMirrorDir } from '../sandbox/provider-mirror.ts';
import type { Logger } from 'pino';
import type { EngineSlice } from './config.ts';
import { providerMirrorDir, SANDBOX_OFF_WARNING } from './config.ts';

/** Start-up work for the engine sandbox; resolves when plans may run. */
export async function prepareEngineSandbox(config: EngineSlice, log: Logger): Promise<void> {
  if (config.engine.sandbox === 'none') {
    log.warn({ sandbox: 'none' }, SANDBOX_OFF_WARNING);
    return;
  }
  await ensureMirrorDir(providerMirrorDir(config.engine, config.runner.dataDir));
}
