// Redis's eviction policy: BullMQ, runs and approvals need `noeviction`, or memory pressure deletes them.
import type { Redis } from 'ioredis';
import { AirlockError } from '../errors.ts';

/** The server's maxmemory-policy by CONFIG GET, else INFO (an ACL user may read only INFO); null when neither answers. */
export async function readEvictionPolicy(redis: Redis): Promise<string | null> {
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
