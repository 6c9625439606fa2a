// Start-up checks: the data dir, Redis and the engine, before the runner opens anything. A runner that
// cannot work exits at once with a coded error that says what to do, instead of looking healthy to
// systemd while it retries forever. `airlock doctor` runs the same checks.
import { access, constants as fsConstants, mkdir, stat } from 'node:fs/promises';
import { Redis } from 'ioredis';
import type { LoadedConfig } from '../config/load.ts';
import { dataDirProblem } from '../config/data-dir.ts';
import type { Engine } from '../engine/engine.ts';
import { AirlockError } from '../errors.ts';
import { maskUrl } from '../watch/ls-remote.ts';

const REDIS_CONNECT_TIMEOUT_MS = 3000;

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

export interface RedisProbe {
  /** `maxmemory-policy`, or null when this user may not read it (neither CONFIG GET nor INFO). */
  policy: string | null;
}

/** Connect once, without retrying, and read the eviction policy; throws `airlock:redis-unreachable`. */
export async function probeRedis(url: string, configFile = 'the runner config'): Promise<RedisProbe> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: REDIS_CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  // ioredis rejects connect() with "Connection is closed."; the reason is in the error event.
  let cause: Error | null = null;
  redis.on('error', (err: Error) => (cause ??= err));
  try {
    try {
      await redis.connect();
      await redis.ping();
    } catch (err) {
      const reason = (cause ?? (err as Error)).message;
      throw new AirlockError('airlock:redis-unreachable', `cannot reach Redis at ${maskUrl(url)}: ${reason}`, {
        cause: cause ?? err,
        hint: `start Redis or fix \`redis.url\` in ${configFile}, then run \`airlock doctor\``,
      });
    }
    return { policy: await readEvictionPolicy(redis) };
  } finally {
    redis.disconnect();
  }
}

async function readEvictionPolicy(redis: Redis): Promise<string | null> {
  try {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as string[];
    if (policy) return policy;
  } catch {
    // An ACL user without CONFIG: INFO says the same.
  }
  try {
    return /^maxmemory_policy:(\S+)/m.exec(await redis.info('memory'))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Pure: why an eviction policy is unsafe for Airlock, or null when it is `noeviction` (or unknown). */
export function evictionProblem(policy: string | null): AirlockError | null {
  if (policy === null || policy === 'noeviction') return null;
  return new AirlockError('airlock:redis-evicts', `Redis has maxmemory-policy ${policy}: under memory pressure it would evict queue jobs, runs and approvals`, {
    hint: 'set `maxmemory-policy noeviction` in redis.conf (or `CONFIG SET maxmemory-policy noeviction`); BullMQ requires it',
  });
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
  const { policy } = await probeRedis(config.redis.url, loaded.file);
  const evicts = evictionProblem(policy);
  if (evicts) throw evicts;
  const { engine, binary } = await openEngine();
  const engineVersion = await checkEngine(engine, binary);
  return { engine, engineVersion, policyUnknown: policy === null };
}
