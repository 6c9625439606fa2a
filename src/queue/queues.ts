// Queues: BullMQ plan, apply and control queues on ioredis. With drift-queue.ts, the only modules that import bullmq.
// Plans retry transient failures with backoff; an apply is attempted exactly once and never re-run.
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { connectRedis, type RedisTarget } from './redis-connection.ts';
import { z } from 'zod';
import { isRunId, runIdSchema } from '../run/run-schema.ts';
import { RedisInputError, reportQuarantine, type QuarantineLog } from '../lib/redis-input.ts';

export const QUEUE_NAMES = { plan: 'plan', apply: 'apply', control: 'control' } as const;

const KEEP = { age: 7 * 24 * 3600, count: 10_000 };

/** The apply queue of one runner. */
export function applyQueueName(runnerId: string): string {
  return `${QUEUE_NAMES.apply}-${runnerId}`;
}

export interface QueueOptions {
  redis: RedisTarget;
  /** This process's runner id: the default apply queue it reports on. */
  runnerId: string;
  /** Key prefix of the runner; BullMQ keys live under `<prefix>:bull`. */
  prefix: string;
  planAttempts: number;
  planBackoffMs: number;
  /** Errors the queues report (a lost connection, say); without a listener BullMQ prints each with its stack. */
  onError?: (err: Error) => void;
}

export { connectRedis };

export function createQueues(options: QueueOptions) {
  const connection = connectRedis(options.redis);
  const prefix = `${options.prefix}:bull`;
  const plan = new Queue(QUEUE_NAMES.plan, { connection, prefix });
  // One apply queue per runner: the plan file lives in the planning runner's data dir, so only that
  // runner can apply exactly the approved bytes.
  const listen = (q: Queue) => q.on('error', (err: Error) => options.onError?.(err));
  listen(plan);
  const applyQueues = new Map<string, Queue>();
  const applyQueue = (runnerId: string) => {
    let q = applyQueues.get(runnerId);
    if (!q) applyQueues.set(runnerId, (q = listen(new Queue(applyQueueName(runnerId), { connection, prefix }))));
    return q;
  };
  const control = new Queue(QUEUE_NAMES.control, { connection, prefix });
  listen(control);
  return {
    /** Idempotent: the job id is derived from the run id, which is derived from (repo, workspace, sha). */
    async enqueuePlan(runId: string): Promise<void> {
      await plan.add('plan', { runId }, {
        jobId: `plan-${runId}`,
        attempts: options.planAttempts,
        backoff: { type: 'exponential', delay: options.planBackoffMs },
        removeOnComplete: KEEP,
        removeOnFail: KEEP,
      });
    },
    /** One attempt only: an apply is never retried automatically. */
    async enqueueApply(runId: string, runnerId: string): Promise<void> {
      await applyQueue(runnerId).add('apply', { runId }, { jobId: `apply-${runId}`, attempts: 1, removeOnComplete: KEEP, removeOnFail: KEEP });
    },
    async scheduleExpiry(runId: string, at: Date): Promise<void> {
      await control.add('expire', { runId }, {
        jobId: `expire-${runId}-${at.getTime()}`,
        delay: Math.max(0, at.getTime() - Date.now()),
        attempts: 5,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: true,
        removeOnFail: KEEP,
      });
    },
    async counts(): Promise<Record<string, Record<string, number>>> {
      return {
        plan: await plan.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed'),
        apply: await applyQueue(options.runnerId).getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed'),
      };
    },
    /** When the oldest job now waiting in each queue was added (null: none waits). */
    async oldestWaiting(): Promise<Record<'plan' | 'apply', number | null>> {
      const oldest = async (q: Queue) => (await q.getJobs(['waiting'], 0, 0, true))[0]?.timestamp ?? null;
      return { plan: await oldest(plan), apply: await oldest(applyQueue(options.runnerId)) };
    },
    async close(): Promise<void> {
      await Promise.all([plan.close(), control.close(), ...[...applyQueues.values()].map((q) => q.close())]);
      connection.disconnect();
    },
  };
}

export type Queues = ReturnType<typeof createQueues>;

/** Info a plan step gets about its job, to decide whether a failure is worth another attempt. */
export interface AttemptInfo {
  attempt: number;
  maxAttempts: number;
}

export interface WorkerOptions {
  redis: RedisTarget;
  runnerId: string;
  prefix: string;
  planConcurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  plan(runId: string, attempt: AttemptInfo): Promise<void>;
  apply(runId: string): Promise<void>;
  expire(runId: string): Promise<void>;
  /** A worker holding an apply died: the run must go to needs_attention, never be re-run. */
  applyStalled(runId: string): Promise<void>;
  /** A plan job failed because its workers died too often (it is not run again): end the run. */
  planStalledOut?(runId: string): Promise<void>;
  onError(err: Error, where: string): void;
  /** Where quarantined jobs are reported. */
  log?: QuarantineLog;
}

type JobKind = 'plan' | 'apply' | 'expire';

/** BullMQ's reason for failing a job that stalled more than `maxStalledCount` times (it is not run again). */
export const STALLED_TOO_OFTEN = 'job stalled more than allowable limit';

const payloadSchema = z.strictObject({ runId: runIdSchema });

/** Pure: the run id of a job Airlock could have enqueued (right name, payload and id), or null. */
export function jobRunId(job: Pick<Job, 'name' | 'id' | 'data'>, kind: JobKind): string | null {
  const payload = payloadSchema.safeParse(job.data);
  if (!payload.success || job.name !== kind) return null;
  const { runId } = payload.data;
  const id = String(job.id);
  const idOk = kind === 'expire' ? new RegExp(`^expire-${runId}-\\d{1,15}$`).test(id) : id === `${kind}-${runId}`;
  return idOk ? runId : null;
}

/** Start the plan, apply and control workers; resolve once they are ready. */
export async function startWorkers(options: WorkerOptions) {
  const prefix = `${options.prefix}:bull`;
  const common = { prefix, lockDuration: options.lockDurationMs, stalledInterval: options.stalledIntervalMs };
  // BullMQ does not close connections it was handed; we do, after the workers close.
  const connections = [connectRedis(options.redis), connectRedis(options.redis), connectRedis(options.redis)] as const;
  // A job is input like any other Redis value: its payload is checked before any handler sees it.
  const runIdOf = (job: Job, kind: JobKind) => {
    const runId = jobRunId(job, kind);
    if (runId !== null) return runId;
    reportQuarantine(options.log, new RedisInputError(`${kind} job`, `${prefix}:${job.queueName}:${String(job.id)}`, ['payload or job id is not one Airlock enqueues']));
    throw new UnrecoverableError(`airlock:redis-record-invalid: ${kind} job ${JSON.stringify(String(job.id).slice(0, 80))} was quarantined`);
  };

  const plan = new Worker(QUEUE_NAMES.plan, (job) => options.plan(runIdOf(job, 'plan'), { attempt: job.attemptsMade + 1, maxAttempts: job.opts.attempts ?? 1 }), {
    ...common,
    connection: connections[0],
    concurrency: options.planConcurrency,
  });
  const apply = new Worker(applyQueueName(options.runnerId), (job) => options.apply(runIdOf(job, 'apply')), {
    ...common,
    connection: connections[1],
    concurrency: 1,
    // A stalled apply goes straight to failed instead of being handed to another worker.
    maxStalledCount: 0,
  });
  const control = new Worker(QUEUE_NAMES.control, (job) => options.expire(runIdOf(job, 'expire')), {
    ...common,
    connection: connections[2],
    concurrency: 4,
  });

  apply.on('stalled', (jobId) => {
    const runId = jobId.replace(/^apply-/, '');
    if (!isRunId(runId) || jobId !== `apply-${runId}`) {
      reportQuarantine(options.log, new RedisInputError('stalled apply job', `${prefix}:${applyQueueName(options.runnerId)}:${jobId}`, ['job id is not apply-<run id>']));
      return;
    }
    options.applyStalled(runId).catch((err: Error) => options.onError(err, 'apply-stalled'));
  });
  plan.on('failed', (job, err) => {
    const runId = job && err?.message === STALLED_TOO_OFTEN ? jobRunId(job, 'plan') : null;
    if (runId) options.planStalledOut?.(runId).catch((e: Error) => options.onError(e, 'plan-stalled'));
  });
  for (const [name, w] of Object.entries({ plan, apply, control })) w.on('error', (err) => options.onError(err, `${name}-worker`));
  await Promise.all([plan.waitUntilReady(), apply.waitUntilReady(), control.waitUntilReady()]);

  return {
    /** Take no new job until resume() (jobs under way go on); for a chain that cannot be written. */
    async pause(): Promise<void> {
      await Promise.all([plan.pause(true), apply.pause(true), control.pause(true)]);
    },
    resume(): void {
      for (const w of [plan, apply, control]) w.resume();
    },
    async close(): Promise<void> {
      await Promise.all([plan.close(), apply.close(), control.close()]);
      for (const c of connections) c.disconnect();
    },
  };
}

/** Wrap an error that must not be retried, keeping the original as `cause`. */
export function doNotRetry(err: Error): Error {
  const wrapped = new UnrecoverableError(err.message);
  wrapped.cause = err;
  return wrapped;
}
