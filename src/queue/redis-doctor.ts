// `airlock doctor`'s Redis checks: reachable as the configured ACL user with the password from its file,
// no eviction, and the user scoped to the runner's key prefix. The scope is probed for real with
// read-only commands: a key outside the prefix must be refused (NOPERM), a key inside answered, and an
// admin command (CONFIG GET) refused. Nothing is written.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { LoadedConfig } from '../config/load.ts';
import { scrubber } from '../log/scrub.ts';
import { maskUrl } from '../watch/ls-remote.ts';
import { redisOptions, redisTargetFor, type RedisTarget } from './redis-connection.ts';
import { evictionProblem, readEvictionPolicy } from './redis-policy.ts';

export interface RedisCheck {
  name: string;
  ok: boolean;
  warn?: boolean;
  detail: string;
  fix?: string;
}

const ACL_FIX = 'create the runner\'s ACL user from deploy/redis.conf (keys `~<prefix>:*` only, `-@dangerous +info`), then set `redis.username` and `redis.passwordFile`';

/** Every Redis check for one runner config. */
export async function checkRedis(loaded: LoadedConfig): Promise<RedisCheck[]> {
  const { config } = loaded;
  let target: RedisTarget;
  try {
    target = await redisTargetFor(loaded, scrubber);
  } catch (err) {
    return [{ name: 'redis password file', ok: false, detail: scrubber.scrubString((err as Error).message), fix: (err as { hint?: string }).hint ?? 'fix `redis.passwordFile`' }];
  }
  const where = maskUrl(config.redis.url);
  const redis = new Redis(...redisOptions(target, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null }));
  // ioredis reports a refused AUTH as an error event and then only "Connection is closed".
  let firstError: Error | null = null;
  redis.on('error', (err: Error) => void (firstError ??= err));
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    const message = scrubber.scrubString((firstError ?? (err as Error)).message);
    const auth = /WRONGPASS|NOAUTH|NOPERM/.test(message);
    return [{ name: 'redis', ok: false, detail: `cannot reach Redis at ${where}: ${message}`, fix: auth ? 'check `redis.username` and the password in `redis.passwordFile` against the ACL user in redis.conf' : 'start Redis or fix `redis.url` in the runner config' }];
  }
  try {
    const user = String(await redis.call('ACL', 'WHOAMI').catch(() => 'unknown'));
    return [
      { name: 'redis', ok: true, detail: `reachable at ${where} as user ${user} (key prefix ${config.redis.prefix})` },
      await checkEviction(redis),
      await checkScope(redis, user, config.redis.prefix),
    ];
  } finally {
    redis.disconnect();
  }
}

async function checkEviction(redis: Redis): Promise<RedisCheck> {
  const name = 'redis maxmemory-policy';
  const policy = await readEvictionPolicy(redis);
  if (policy === null) return { name, ok: true, warn: true, detail: 'neither CONFIG GET nor INFO is allowed; cannot check', fix: 'make sure `maxmemory-policy` is `noeviction` and allow `+info` to the runner\'s user' };
  const evicts = evictionProblem(policy);
  return evicts ? { name, ok: false, detail: evicts.message, fix: evicts.hint } : { name, ok: true, detail: 'noeviction' };
}

/** Whether a read-only probe is refused by the ACL (NOPERM), answered, or failed otherwise. */
async function probe(run: () => Promise<unknown>): Promise<'refused' | 'answered' | string> {
  try {
    await run();
    return 'answered';
  } catch (err) {
    const message = (err as Error).message;
    return /^NOPERM/.test(message) ? 'refused' : message;
  }
}

async function checkScope(redis: Redis, user: string, prefix: string): Promise<RedisCheck> {
  const name = 'redis acl';
  if (user === 'default') {
    return { name, ok: true, warn: true, detail: 'connected as the default user: anyone with its password reaches every key and admin command', fix: ACL_FIX };
  }
  const inside = await probe(() => redis.exists(`${prefix}:doctor-probe-${randomUUID()}`));
  if (inside !== 'answered') return { name, ok: false, detail: `user ${user} cannot read keys under its own prefix ${prefix}: (${inside})`, fix: `grant \`~${prefix}:*\` to ${user}` };
  const outside = await probe(() => redis.exists(`airlock-doctor-outside-${randomUUID()}`));
  if (outside !== 'refused') return { name, ok: false, detail: `user ${user} can reach keys outside ${prefix}:`, fix: `limit ${user} to \`~${prefix}:*\` (resetkeys first); ${ACL_FIX}` };
  const admin = await probe(() => redis.call('CONFIG', 'GET', 'maxmemory-policy'));
  if (admin !== 'refused') return { name, ok: false, detail: `user ${user} may run admin commands (CONFIG GET answered)`, fix: `add \`-@dangerous +info\` to ${user}` };
  return { name, ok: true, detail: `user ${user} is limited to keys under ${prefix}: and refused admin commands` };
}
