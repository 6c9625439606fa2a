// Removing one runner's keys (the demo's, a test's): SCAN + DEL under its own prefix, never a flush.
import { Redis } from 'ioredis';
import { redisOptions, type RedisTarget } from '../queue/redis-connection.ts';

/** Delete every key under `prefix:` on the Redis at `target`. */
export async function deleteKeysUnder(target: RedisTarget | string, prefix: string): Promise<void> {
  const redis = new Redis(...redisOptions(target, { maxRetriesPerRequest: 1 }));
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
