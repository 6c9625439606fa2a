// Start-up checks: the data dir, Redis and the engine, before the runner opens anything. A runner that
// cannot work exits at once with a coded error that says what to do, instead of looking healthy to
// systemd while it retries forever. `airlock doctor` runs the same checks.
import { access, constants as fsConstants, mkdir, stat } from 'node:fs/promises';
import type { LoadedConfig } from '../config/load.ts';
import { dataDirProblem } from '../config/data-dir.ts';
import type { Engine } from '../engine/engine.ts';
import { AirlockError } from '../errors.ts';
import { scrubber } from '../log/scrub.ts';
import { redisTargetFor } from '../queue/redis-connection.ts';
import { evictionProblem } from '../queue/redis-policy.ts';
import { probeRedis } from './redis-probe.ts';

/** Create the data dir if needed and make sure only the runner can use it; returns a one-line description. */
export async function checkDataDir(dir: string): Promise<string> {
  const problem = await dataDirProblem(dir);
  if (problem) throw new AirlockError('airlock:data-dir-unusable', `${dir}: ${problem}`, { hint: 'Set `runner.dataDir` to a directory on a real disk, such as /var/lib/airlock.' });
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await access(dir, fsConstants.W_OK | fsConstants.X_OK);
  } catch (err) {
    throw new AirlockError('airlock:data-dir-unusable', `${dir}: ${(err as Error).message}`, { cause: err, hint: 'Set `runner.dataDir` to a directory the runner user can create and write.' });
  }
  const s = await stat(dir);
  if (!s.isDirectory()) throw new AirlockError('airlock:data-dir-unusable', `${dir} is not a directory`, { hint: 'Set `runner.dataDir` to a directory.' });
  const uid = process.getuid?.();
  if (uid !== undefined && s.uid !== uid) {
    throw new AirlockError('airlock:data-dir-unsafe', `${dir} is owned by uid ${s.uid}, not the runner (uid ${uid})`, { hint: `chown -R $(id -u) ${dir}` });
  }
  if ((s.mode & 0o077) !== 0) {
    throw new AirlockError('airlock:data-dir-unsafe', `${dir} has mode ${(s.mode & 0o777).toString(8)}; plan files and state inside embed secrets`, { hint: `chmod 700 ${dir}` });
  }
  return `${dir} (mode 700)`;
}

/** Run `version -json` through the configured engine; returns "terraform 1.11.4". */
export async function checkEngine(engine: Engine, binary: string): Promise<string> {
  try {
    const v = await engine.version();
    return `${v.kind} ${v.version}`;
  } catch (err) {
    if (err instanceof AirlockError && err.code === 'airlock:engine-not-found') throw err;
    throw new AirlockError('airlock:engine-unusable', `the engine ${binary} does not run: ${(err as Error).message.split('\n')[0]}`, {
      cause: err,
      hint: 'Set `engine.binary` to the absolute path of terraform or tofu, and check it runs as the runner user (`airlock doctor`).',
    });
  }
}

export interface PreflightResult {
  engine: Engine;
  engineVersion: string;
  /** Set when the eviction policy could not be read (an ACL user without CONFIG and INFO). */
  policyUnknown: boolean;
}

/** Every start-up check, in order; throws the first failure as a coded AirlockError. */
export async function preflight(loaded: LoadedConfig, openEngine: () => Promise<{ engine: Engine; binary: string }>): Promise<PreflightResult> {
  const { config } = loaded;
  await checkDataDir(config.runner.dataDir);
  const { policy } = await probeRedis(await redisTargetFor(loaded, scrubber), loaded.file);
  const evicts = evictionProblem(policy);
  if (evicts) throw evicts;
  const { engine, binary } = await openEngine();
  const engineVersion = await checkEngine(engine, binary);
  return { engine, engineVersion, policyUnknown: policy === null };
}
