// Each drift-checked workspace's standing: when it was last found in sync, and its latest drift run.
// Written by the runner as drift runs end (a transitions subscriber); read by `airlock drift`. Redis is
// input: a record that is not one Airlock wrote is quarantined and shown as unknown.
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Run } from '../run/run.ts';
import { runIdSchema } from '../run/run-schema.ts';
import { parseRedisJson, type QuarantineLog } from '../lib/redis-input.ts';

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
});
export type DriftStatus = z.infer<typeof statusSchema>;

export function createDriftStatus(redis: Redis, prefix: string, log?: QuarantineLog) {
  const key = (repo: string, workspace: string) => `${prefix}:drift-status:${repo}:${workspace}`;
  async function read(repo: string, workspace: string): Promise<DriftStatus | null> {
    const k = key(repo, workspace);
    const text = await redis.get(k);
    return text === null ? {} : parseRedisJson(statusSchema, text, { kind: 'drift status', key: k, log });
  }
  return {
    read,
    /** Record where a drift run got to; `inSync` also moves the workspace's last-in-sync time. */
    async record(run: Run, inSync: boolean, at = new Date()): Promise<void> {
      const previous = (await read(run.repo, run.workspace)) ?? {};
      const next: DriftStatus = {
        ...previous,
        lastRun: run.id,
        lastState: run.state,
        lastAt: at.toISOString(),
        drifted: run.plan?.summary.drift?.total ?? 0,
        ...(inSync ? { lastInSync: at.toISOString() } : {}),
      };
      await redis.set(key(run.repo, run.workspace), JSON.stringify(next));
    },
  };
}

export type DriftStatusStore = ReturnType<typeof createDriftStatus>;
