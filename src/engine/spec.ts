// Which engine binary a runner runs, and with what: the runner config's engine section made concrete.
import { access, constants as fsConstants } from 'node:fs/promises';
import path from 'node:path';
import { AirlockError } from '../errors.ts';
import { sandboxSettingsFor, type EngineConfig } from './config.ts';
import type { EngineSpec } from './engine.ts';

/** What the engine spec is made from; the whole runner config satisfies it. */
export interface EngineSpecSlice {
  engine: EngineConfig;
  runner: { dataDir: string };
}

/** The engine binary to run: the configured one, else `terraform`/`tofu` found on the host's PATH. */
export async function resolveEngineBinary(config: EngineSpecSlice, searchPath = process.env['PATH'] ?? ''): Promise<string> {
  const wanted = config.engine.binary ?? config.engine.kind;
  if (wanted.includes('/')) return path.resolve(wanted);
  for (const dir of searchPath.split(':').filter(Boolean)) {
    const candidate = path.join(dir, wanted);
    if (await access(candidate, fsConstants.X_OK).then(() => true, () => false)) return candidate;
  }
  throw new AirlockError('airlock:engine-not-found', `no \`${wanted}\` executable on PATH`, {
    hint: `Install ${config.engine.kind} or set \`engine.binary\` in the runner config to its absolute path.`,
  });
}

export async function engineSpecFor(config: EngineSpecSlice): Promise<EngineSpec> {
  return {
    kind: config.engine.kind,
    binary: await resolveEngineBinary(config),
    path: config.engine.path,
    env: config.engine.env,
    timeouts: config.engine.timeouts,
    lockTimeoutMs: config.engine.lockTimeout,
    sandbox: sandboxSettingsFor(config.engine, config.runner.dataDir),
  };
}
