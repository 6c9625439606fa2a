// The drift queue: one delayed BullMQ job per (repo, workspace, schedule slot). Every runner on the same
// Redis adds the slot's job under the same id, and BullMQ keeps one job per id (finished ones are kept for
// a week, so a late add is still a duplicate): each slot fires once, on whichever runner takes it.
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { z } from 'zod';
import { connectRedis, type RedisTarget } from './redis-connection.ts';
import { RedisInputError, reportQuarantine, type QuarantineLog } from '../lib/redis-input.ts';

export const DRIFT_QUEUE = 'drift';
const KEEP = { age: 7 * 24 * 3600, count: 10_000 };

const configName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/);
/** The slot, as the ISO time the schedule names (or the time of `airlock drift`). */
const slotTime = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/).refine((s) => new Date(s).toISOString() === s, 'must be an ISO time');

export const driftPayloadSchema = z.strictObject({ repo: configName, workspace: configName, slot: slotTime });
export type DriftPayload = z.infer<typeof driftPayloadSchema>;

/** The job id of a slot: the same on every runner. */
export function driftJobId(p: DriftPayload): string {
  return `drift-${p.repo}-${p.workspace}-${new Date(p.slot).getTime()}`;
}

/** Pure: the payload of a job Airlock could have added (right name, payload and id), or null. */
export function driftJobPayload(job: Pick<Job, 'name' | 'id' | 'data'>): DriftPayload | null {
  const parsed = driftPayloadSchema.safeParse(job.data);
  if (!parsed.success || job.name !== 'drift' || String(job.id) !== driftJobId(parsed.data)) return null;
  return parsed.data;
}

export interface DriftQueueOptions {
  redis: RedisTarget;
  /** The runner's key prefix; BullMQ keys live under `<prefix>:bull`. */
  prefix: string;
  onError?: (err: Error) => void;
}

export function createDriftQueue(options: DriftQueueOptions) {
  const connection = connectRedis(options.redis);
  const queue = new Queue(DRIFT_QUEUE, { connection, prefix: `${options.prefix}:bull` });
  queue.on('error', (err: Error) => options.onError?.(err));
  return {
    /** Idempotent per slot: a second add of the same slot, by any runner, is the same job. */
    async schedule(payload: DriftPayload, fireAt: Date, now = Date.now()): Promise<void> {
      await queue.add('drift', driftPayloadSchema.parse(payload), {
        jobId: driftJobId(payload),
        delay: Math.max(0, fireAt.getTime() - now),
        attempts: 3,
        backoff: { type: 'exponential', delay: 5_000 },
        removeOnComplete: KEEP,
        removeOnFail: KEEP,
      });
    },
    /** Delayed slots, soonest first (for `airlock drift`). */
    async pending(): Promise<Array<{ payload: DriftPayload; fireAt: number }>> {
      const jobs = await queue.getJobs(['delayed', 'waiting'], 0, 999, true);
      return jobs
        .map((j) => ({ payload: driftJobPayload(j), fireAt: j.timestamp + (j.opts.delay ?? 0) }))
        .filter((j): j is { payload: DriftPayload; fireAt: number } => j.payload !== null)
        .sort((a, b) => a.fireAt - b.fireAt);
    },
    async close(): Promise<void> {
      await queue.close();
      connection.disconnect();
    },
  };
}

export type DriftQueue = ReturnType<typeof createDriftQueue>;

export interface DriftWorkerOptions {
  redis: RedisTarget;
  prefix: string;
  lockDurationMs: number;
  fire(payload: DriftPayload): Promise<void>;
  onError(err: Error, where: string): void;
  log?: QuarantineLog;
}

/** Take slots as they come due; a job Airlock did not add is quarantined, never acted on. */
export async function startDriftWorker(options: DriftWorkerOptions) {
  const prefix = `${options.prefix}:bull`;
  const connection = connectRedis(options.redis);
  const worker = new Worker(
    DRIFT_QUEUE,
    async (job) => {
      const payload = driftJobPayload(job);
      if (payload === null) {
        reportQuarantine(options.log, new RedisInputError('drift job', `${prefix}:${DRIFT_QUEUE}:${String(job.id)}`, ['payload or job id is not one Airlock adds']));
        throw new UnrecoverableError(`airlock:redis-record-invalid: drift job ${JSON.stringify(String(job.id).slice(0, 80))} was quarantined`);
      }
      await options.fire(payload);
    },
    { connection, prefix, concurrency: 2, lockDuration: options.lockDurationMs },
  );
  worker.on('error', (err) => options.onError(err, 'drift-worker'));
  await worker.waitUntilReady();
  return {
    async close(): Promise<void> {
      await worker.close();
      connection.disconnect();
    },
  };
}
