// What happens to an apply whose worker died: before the point of no return nothing ran, so the run
// fails; after it, the apply may be partial, so the run goes to needs_attention for a human. Nothing is
// ever applied again automatically.
import type { Logger } from 'pino';
import type { RunStore } from '../run/run-store.ts';
import { thisHost } from '../run/run-store.ts';
import type { RunTransitions } from '../run/transitions.ts';
import type { Run } from '../run/run.ts';

export interface RecoveryDeps {
  runs: Pick<RunStore, 'find' | 'listIn'>;
  transitions: Pick<RunTransitions, 'move'>;
  log: Logger;
  /** The engine output of the run's apply, scrubbed and cut. */
  outputTail(run: Run): Promise<string>;
  /** The state lock id the engine left, when the backend is local. */
  localLockId(run: Run): Promise<string | undefined>;
}

/** A worker died while holding this apply: record what is known and hand it to a human. */
export async function abandonApply(deps: RecoveryDeps, runId: string, reason: string): Promise<Run | null> {
  const current = await deps.runs.find(runId);
  if (!current) return null;
  if (current.state === 'approved') {
    // The worker died before the point of no return: nothing ran.
    return deps.transitions.move(current, {
      from: ['approved'],
      to: 'failed',
      patch: { error: { code: 'airlock:apply-not-started', message: `${reason}; nothing was applied. Approve a new plan to try again.` } },
      record: { type: 'apply.failed', detail: { code: 'airlock:apply-not-started', reason } },
    });
  }
  if (current.state !== 'applying') return null;
  const lockId = await deps.localLockId(current);
  const tail = await deps.outputTail(current);
  return deps.transitions.move(current, {
    from: ['applying'],
    to: 'needs_attention',
    patch: { attention: { reason, ...(lockId ? { lockId } : {}), outputTail: tail } },
    record: { type: 'apply.needs_attention', detail: { reason, lockId: lockId ?? null } },
    log: { level: 'error', msg: 'apply interrupted: needs a human', fields: { lockId, reason } },
  });
}

/** Runs this runner left `applying` from a process on this host that is gone: each is abandoned now. */
export async function reconcileApplies(
  deps: Pick<RecoveryDeps, 'runs'> & { runnerId: string; abandon(runId: string, reason: string): Promise<Run | null> },
): Promise<Run[]> {
  const abandoned: Run[] = [];
  for (const run of await deps.runs.listIn(['applying'])) {
    if (run.apply?.host !== thisHost || run.apply.runnerId !== deps.runnerId) continue;
    if (run.apply.pid !== process.pid && !isAlive(run.apply.pid)) {
      const moved = await deps.abandon(run.id, `the runner process (pid ${run.apply.pid}) died mid-apply; the apply may be partial and is never re-run automatically`);
      if (moved) abandoned.push(moved);
    }
  }
  return abandoned;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A plan job whose worker died mid-plan more often than the queue allows (BullMQ fails a job that stalled
 * more than `maxStalledCount` times, without running it again). The run would stay `planning` forever; it
 * ends `failed` on the record instead, saying what happened and what to do. Null if it was not planning.
 */
export async function failInterruptedPlan(deps: Pick<RecoveryDeps, 'transitions'>, runId: string): Promise<Run | null> {
  const message = `the runner planning this head stopped mid-plan more than once (killed, or lost its Redis lock); nothing was planned. Next: run \`airlock replan ${runId}\` to plan it again.`;
  return deps.transitions.move(runId, {
    from: ['planning'],
    to: 'failed',
    patch: { error: { code: 'airlock:plan-interrupted', message } },
    record: { type: 'plan.failed', detail: { code: 'airlock:plan-interrupted', message } },
    log: { level: 'error', msg: 'plan interrupted too often: the run failed', fields: { code: 'airlock:plan-interrupted' } },
  });
}
