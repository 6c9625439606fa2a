// One connection to Redis, made once without retrying, before a runner or a CLI command opens its own:
// an unreachable Redis or a wrong password is a coded error at once, not a client that retries forever.
import { Redis } from 'ioredis';
import { AirlockError } from '../errors.ts';
import { redisOptions, type RedisTarget } from '../queue/redis-connection.ts';
import { readEvictionPolicy } from '../queue/redis-policy.ts';

const REDIS_CONNECT_TIMEOUT_MS = 3000;

/** The URL for a message, without a user or password (the config refuses them; this is the second wall). */
const shownUrl = (url: string) => url.replace(/^(rediss?:\/\/)[^/?#\s]*@/i, '$1***@');

export interface RedisProbe {
  /** `maxmemory-policy`, or null when this user may not read it (neither CONFIG GET nor INFO). */
  policy: string | null;
}

/** Connect once, without retrying, and read the eviction policy; throws `airlock:redis-unreachable`. */
export async function probeRedis(target: RedisTarget, configFile = 'the runner config'): Promise<RedisProbe> {
  const { url } = target;
  const redis = new Redis(...redisOptions(target, { lazyConnect: true, connectTimeout: REDIS_CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false }));
  // ioredis rejects connect() with "Connection is closed."; the reason is in the error event.
  let cause: Error | null = null;
  redis.on('error', (err: Error) => (cause ??= err));
  try {
    try {
      await redis.connect();
      await redis.ping();
    } catch (err) {
      const reason = (cause ?? (err as Error)).message;
      const auth = /WRONGPASS|NOAUTH|NOPERM/.test(reason);
      throw new AirlockError('airlock:redis-unreachable', `cannot reach Redis at ${shownUrl(url)}: ${reason}`, {
        cause: cause ?? err,
        hint: auth
          ? `check \`redis.username\` and the password in \`redis.passwordFile\` (${configFile}) against the runner's ACL user in redis.conf, then run \`airlock doctor\``
          : `start Redis or fix \`redis.url\` in ${configFile}, then run \`airlock doctor\``,
      });
    }
    return { policy: await readEvictionPolicy(redis) };
  } finally {
    redis.disconnect();
  }
}
