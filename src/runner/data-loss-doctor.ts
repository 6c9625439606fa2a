// `airlock doctor`'s view of Redis data loss: whether the epoch this data dir recorded is still the one in
// Redis (data-loss.ts), and whether a loss happened lately. It reads one key and writes nothing.
import { Redis } from 'ioredis';
import type { LoadedConfig } from '../config/load.ts';
import type { Check } from '../lib/check.ts';
import { scrubber } from '../log/scrub.ts';
import { redisOptions, redisTargetFor } from '../queue/redis-connection.ts';
import { epochIdOf, epochKey, lastLoss, recordedEpoch } from './redis-epoch.ts';

const NAME = 'redis data';
const RECENT_MS = 7 * 24 * 3600_000;
const PERSIST_FIX = 'turn Redis persistence on (deploy/redis.conf: `appendonly yes`); a Redis that restarts without its data voids every pending approval';

/** One check: the data dir's epoch against Redis's, and the last loss if it was in the past week. */
export async function checkRedisData(loaded: LoadedConfig, now = new Date()): Promise<Check[]> {
  const { config } = loaded;
  const prefix = config.redis.prefix;
  let raw: string | null;
  const redis = new Redis(...redisOptions(await redisTargetFor(loaded, scrubber).catch(() => ({ url: config.redis.url })), { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null }));
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    raw = await redis.get(epochKey(prefix));
  } catch {
    return [{ name: NAME, ok: true, warn: true, detail: 'cannot read the epoch key (see the redis check)' }];
  } finally {
    redis.disconnect();
  }
  const recorded = await recordedEpoch(config.runner.dataDir, prefix);
  if (recorded === null) return [{ name: NAME, ok: true, detail: 'no epoch recorded yet: the runner records one when it starts, and notices if Redis comes back without it' }];
  if (raw === null || epochIdOf(raw) !== recorded) {
    return [
      {
        name: NAME,
        ok: false,
        detail: `Redis lost its data since this runner last looked (its epoch key ${raw === null ? 'is gone' : 'changed'}): the runs, pending approvals and queued jobs in it are gone`,
        fix: `start the runner (a running one notices within seconds): it restores its runs from the audit chain and ends what was under way, so nothing applies without a new approval. Then ${PERSIST_FIX}`,
      },
    ];
  }
  const loss = await lastLoss(config.runner.dataDir);
  if (loss && loss.prefix === prefix && now.getTime() - Date.parse(loss.at) < RECENT_MS) {
    const restored = Object.values(loss.restored).reduce((a, b) => a + b, 0);
    return [{ name: NAME, ok: true, warn: true, detail: `Redis lost its data at ${loss.at}: ${restored} run(s) restored from the audit chain, ${loss.voided} that were under way ended (\`airlock runs\`; audit records redis.data_lost, run.restored)`, fix: PERSIST_FIX }];
  }
  return [{ name: NAME, ok: true, detail: 'Redis still holds the epoch this runner recorded: no data lost' }];
}
