// When a workspace's drift check fires: the schedule's next slot (cron-parser, in the schedule's time
// zone), plus a jitter that every runner computes alike from (repo, workspace, slot), so the slot's job
// has the same id and fire time on every runner and workspaces on one schedule do not all plan at once.
import { createHash } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';

export interface DriftTiming {
  schedule: string;
  timezone: string;
  /** Largest delay added to a slot, in ms. */
  jitter: number;
}

/** The first slot strictly after `after`. */
export function nextSlot(timing: Pick<DriftTiming, 'schedule' | 'timezone'>, after: Date): Date {
  return CronExpressionParser.parse(timing.schedule, { currentDate: after, tz: timing.timezone }).next().toDate();
}

/** A delay in [0, maxMs) that depends only on (repo, workspace, slot). */
export function jitterFor(repo: string, workspace: string, slot: Date, maxMs: number): number {
  if (maxMs <= 0) return 0;
  const h = createHash('sha256').update(`${repo}\0${workspace}\0${slot.toISOString()}`).digest();
  return Math.floor((h.readUInt32BE(0) / 2 ** 32) * maxMs);
}

/** The next slot after `after`, and when its check fires. */
export function nextFiring(repo: string, workspace: string, timing: DriftTiming, after: Date): { slot: Date; fireAt: Date } {
  const slot = nextSlot(timing, after);
  return { slot, fireAt: new Date(slot.getTime() + jitterFor(repo, workspace, slot, timing.jitter)) };
}
