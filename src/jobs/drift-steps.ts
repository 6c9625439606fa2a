// The plan job's drift parts. The `lock` step: a drift check takes the workspace lock (the one applies
// take, apply/workspace-lock.ts) around its engine plan, so it never reads the state while an apply is
// changing it; when the lock is held it skips its slot or waits, as `drift.whenLocked` says, and records
// which. And `tell`: whether a drift run's findings are news (quiet by default, drift-notice.ts).
import type { Logger } from 'pino';
import type { HeldLock, WorkspaceLocks } from '../apply/workspace-lock.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RunnerConfig } from '../config/schema.ts';
import { workspaceOf } from '../config/workspace.ts';
import { describeRun, RUNNER_ACTOR } from '../run/describe.ts';
import type { DriftLockOutcome, DriftNotice, Run } from '../run/run.ts';
import { thisHost, type RunStore } from '../run/run-store.ts';
import type { RunTransitions } from '../run/transitions.ts';
import type { DriftStatusStore } from './drift-status.ts';
import type { Step } from './step-loop.ts';

export interface DriftStepsDeps {
  config: RunnerConfig;
  runs: RunStore;
  audit: AuditLog;
  transitions: Pick<RunTransitions, 'move'>;
  locks: Pick<WorkspaceLocks, 'tryAcquire' | 'acquire' | 'holder'>;
  driftStatus: Pick<DriftStatusStore, 'notice'>;
  log: Logger;
}

/** What the drift parts need of the plan job's context. */
export interface DriftContext {
  run: Run;
  log: Logger;
  /** The workspace lock a drift check holds from this step until its engine plan ends. */
  lock?: HeldLock | null;
  /** The drift fingerprint the summarize step computed. */
  driftFingerprint?: string;
}

/** Who holds a lock, as its value names it (`runner@host:pid what run`), without its random suffix. */
export function holderText(value: string | null): string | null {
  if (value === null) return null;
  // Redis is input: printable ASCII only, and short.
  return value.replace(/:[0-9a-f]{16}$/, '').replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

export function createDriftSteps(deps: DriftStepsDeps) {
  const { config, runs, audit } = deps;

  async function skip(ctx: DriftContext, outcome: DriftLockOutcome): Promise<'done'> {
    const reason = outcome.whenLocked === 'wait' ? `the workspace lock was still held after waiting ${Math.round(outcome.waitedMs / 1000)} s` : 'the workspace lock was held';
    await deps.transitions.move(ctx.run, {
      from: ['planning'],
      to: 'skipped',
      patch: { driftLock: outcome },
      record: { type: 'drift.skipped', detail: { reason: `${reason} (drift.whenLocked: ${outcome.whenLocked})`, holder: outcome.holder, whenLocked: outcome.whenLocked, waitedMs: outcome.waitedMs } },
      log: { level: 'warn', msg: `drift check skipped: ${reason}; the next slot checks again`, fields: { holder: outcome.holder, whenLocked: outcome.whenLocked }, logger: ctx.log },
    });
    return 'done';
  }

  /** Take the lock, wait for it, or skip the slot: drift runs only (a PR run's plan never locks). */
  const lock: Step<DriftContext> = {
    name: 'lock',
    when: (ctx) => ctx.run.kind === 'drift',
    async run(ctx) {
      const { run } = ctx;
      const owner = `${config.runner.id}@${thisHost}:${process.pid} drift check ${run.id}`;
      ctx.lock = await deps.locks.tryAcquire(run.repo, run.workspace, owner);
      if (ctx.lock) return;
      const holder = holderText(await deps.locks.holder(run.repo, run.workspace));
      const drift = workspaceOf(config, run).drift;
      if (drift?.whenLocked !== 'wait') return skip(ctx, { whenLocked: 'skip', outcome: 'skipped', holder, waitedMs: 0 });
      await audit.append({ type: 'drift.lock-wait', ...describeRun(run), actor: RUNNER_ACTOR, detail: { holder, lockWaitMs: drift.lockWait, whenLocked: 'wait' } });
      ctx.log.info({ holder, lockWaitMs: drift.lockWait }, 'drift check waits for the workspace lock (drift.whenLocked: wait)');
      const started = Date.now();
      ctx.lock = await deps.locks.acquire(run.repo, run.workspace, owner, drift.lockWait);
      const outcome: DriftLockOutcome = { whenLocked: 'wait', outcome: ctx.lock ? 'waited' : 'skipped', holder, waitedMs: Date.now() - started };
      if (!ctx.lock) return skip(ctx, outcome);
      ctx.run = (await runs.update(run.id, (r) => (r.state === 'planning' ? { ...r, driftLock: outcome } : null))) ?? ctx.run;
      await audit.append({ type: 'drift.lock-taken', ...describeRun(ctx.run), actor: RUNNER_ACTOR, detail: { holder, waitedMs: outcome.waitedMs, whenLocked: 'wait' } });
      ctx.log.info({ holder, waitedMs: outcome.waitedMs }, 'drift check took the workspace lock after waiting');
    },
  };

  /** Whether a drift run's findings are told (new or changed drift); recorded on the run and in the audit log. */
  async function tell(ctx: DriftContext): Promise<DriftNotice> {
    const notice = await deps.driftStatus.notice(ctx.run, ctx.driftFingerprint!);
    ctx.run = (await runs.update(ctx.run.id, (r) => (r.state === 'planning' ? { ...r, driftNotice: notice } : null))) ?? ctx.run;
    await audit.append({ type: 'drift.notice', ...describeRun(ctx.run), actor: RUNNER_ACTOR, detail: { outcome: notice.outcome, reason: notice.reason, fingerprint: notice.fingerprint } });
    ctx.log.info({ outcome: notice.outcome, fingerprint: notice.fingerprint }, notice.outcome === 'notified' ? 'drift is news: the approvers are told' : `drift notice suppressed: ${notice.reason}`);
    return notice;
  }

  return { lock, tell };
}

export type DriftSteps = ReturnType<typeof createDriftSteps>;
