// The read-only view of a runner's runs that `airlock runs` and `airlock show` open: one Redis connection
// and the data dir's paths, without the control plane's queues, audit chain or approval channel.
import type { LoadedConfig } from '../config/load.ts';
import { scrubber } from '../log/scrub.ts';
import { connectRedis, redisTargetFor } from '../queue/redis-connection.ts';
import { runnerPaths, type RunnerPaths } from '../run/paths.ts';
import { RunStore } from '../run/run-store.ts';

/** Where `airlock show` finds what was last reported for a run. */
export function reportKey(prefix: string, runId: string): string {
  return `${prefix}:report:${runId}`;
}

/** What the read-only commands need: runs and the audit directory. Opens no chain, no queue, no lock. */
export interface RunReader {
  paths: Pick<RunnerPaths, 'auditDir' | 'job'>;
  runs: Pick<RunStore, 'get' | 'find' | 'list'>;
  /** What was last reported to the forge for a run (JSON of ReportOutcome), or null. */
  reported?: (runId: string) => Promise<string | null>;
}

/** A reader over a runner's runs for `runs` and `show`: it creates nothing on disk and writes nothing to Redis. */
export async function openRunReader(loaded: LoadedConfig): Promise<RunReader & { close(): void }> {
  const redis = connectRedis(await redisTargetFor(loaded, scrubber));
  redis.on('error', () => undefined);
  return {
    paths: runnerPaths(loaded.config.runner.dataDir),
    runs: new RunStore(redis, loaded.config.redis.prefix),
    // Read only where a repo reports to a forge: otherwise there is nothing to read.
    ...(loaded.config.repos.some((r) => r.forge) ? { reported: (runId: string) => redis.get(reportKey(loaded.config.redis.prefix, runId)) } : {}),
    close: () => redis.disconnect(),
  };
}
