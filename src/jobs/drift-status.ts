// Each drift-checked workspace's standing: when it was last found in sync, its latest drift run, and the
// fingerprint of the drift last told to the approvers (quiet notices, drift-notice.ts). Written by the
// runner as drift runs end (a transitions subscriber) and as they decide whether to tell; read by
// `airlock drift`. Changes are compare-and-set, so two runners never lose each other's writes. Redis is
// input: a record that is not one Airlock wrote is quarantined and shown as unknown.
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { AirlockError } from '../errors.ts';
import type { DriftNotice, Run } from '../run/run.ts';
import { runIdSchema } from '../run/run-schema.ts';
import { parseRedisJson, type QuarantineLog } from '../lib/redis-input.ts';
import { noticeFor } from './drift-notice.ts';

const time = z.string().max(40).refine((s) => !Number.isNaN(Date.parse(s)), 'must be a time');

const statusSchema = z.strictObject({
  /** When a drift run last found nothing to change (or its plan was applied). */
  lastInSync: time.optional(),
  /** The latest drift run that ended or is waiting for a decision, its state and when it got there. */
  lastRun: runIdSchema.optional(),
  lastState: z.string().max(40).optional(),
  lastAt: time.optional(),
  /** How many objects that run found drifted. */
  drifted: z.number().int().nonnegative().optional(),
  /** The fingerprint of the drift last told, the run that told it and when; gone once back in sync. */
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  notifiedRun: runIdSchema.optional(),
  notifiedAt: time.optional(),
});
export type DriftStatus = z.infer<typeof statusSchema>;

const COMPARE_AND_SET = `
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`;

export function createDriftStatus(redis: Redis, prefix: string, log?: QuarantineLog) {
  const key = (repo: string, workspace: string) => `${prefix}:drift-status:${repo}:${workspace}`;

  async function readRaw(repo: string, workspace: string): Promise<{ text: string; status: DriftStatus | null }> {
    const k = key(repo, workspace);
    const text = (await redis.get(k)) ?? '';
    return { text, status: text === '' ? {} : parseRedisJson(statusSchema, text, { kind: 'drift status', key: k, log }) };
  }

  /** Change the status with `change` (given the stored one, or null when quarantined); retried on a race. */
  async function update<T>(repo: string, workspace: string, change: (status: DriftStatus | null) => { next: DriftStatus; result: T }): Promise<T> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const { text, status } = await readRaw(repo, workspace);
      const { next, result } = change(status);
      if ((await redis.eval(COMPARE_AND_SET, 1, key(repo, workspace), text, JSON.stringify(next))) === 1) return result;
    }
    throw new AirlockError('airlock:run-contended', `the drift status of ${repo}/${workspace} kept changing under us; gave up after 20 attempts`);
  }

  return {
    async read(repo: string, workspace: string): Promise<DriftStatus | null> {
      return (await readRaw(repo, workspace)).status;
    },

    /** Record where a drift run got to; `inSync` also moves the last-in-sync time and forgets the drift told. */
    async record(run: Run, inSync: boolean, at = new Date()): Promise<void> {
      await update(run.repo, run.workspace, (previous) => {
        const { fingerprint, notifiedRun, notifiedAt, ...kept } = previous ?? {};
        const told = inSync ? {} : { fingerprint, notifiedRun, notifiedAt };
        const next: DriftStatus = {
          ...kept,
          ...told,
          lastRun: run.id,
          lastState: run.state,
          lastAt: at.toISOString(),
          drifted: run.plan?.summary.drift?.total ?? 0,
          ...(inSync ? { lastInSync: at.toISOString() } : {}),
        };
        return { next: JSON.parse(JSON.stringify(next)) as DriftStatus, result: undefined };
      });
    },

    /** Whether `run`'s drift (`fingerprint`) is news; a told one becomes the workspace's fingerprint. */
    async notice(run: Run, fingerprint: string, at = new Date()): Promise<DriftNotice> {
      return update(run.repo, run.workspace, (previous) => {
        const notice = noticeFor(previous, fingerprint, run);
        const next = notice.outcome === 'notified' ? { ...(previous ?? {}), fingerprint, notifiedRun: run.id, notifiedAt: at.toISOString() } : previous!;
        return { next, result: notice };
      });
    },
  };
}

export type DriftStatusStore = ReturnType<typeof createDriftStatus>;
