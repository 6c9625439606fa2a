// The apply job: verify → lock → credentials → apply → revoke → report. It runs at most once per run:
// the move from approved to applying is a compare-and-set, and a run found already `applying` is never
// applied again; it goes to needs_attention for a human.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { describeRun, RUNNER_ACTOR } from '../audit/audit.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Engine } from '../engine/engine.ts';
import { AirlockError, toError } from '../errors.ts';
import type { Scrubber } from '../log/scrub.ts';
import { sha256File } from '../plan/plan-file.ts';
import type { RunnerPaths } from '../runner/paths.ts';
import type { RunStore } from './run-store.ts';
import { thisHost } from './run-store.ts';
import type { Run } from './run.ts';
import type { WorkspaceLocks } from './workspace-lock.ts';

export interface ApplyStepsDeps {
  runnerId: string;
  paths: RunnerPaths;
  runs: RunStore;
  locks: WorkspaceLocks;
  audit: AuditLog;
  engine: Engine;
  scrubber: Scrubber;
  log: Logger;
  workspaceLockWaitMs: number;
  /** The engine's working directory for a run (the exported workspace dir). */
  workDir(run: Run): string;
  /** The local state file of a run's workspace, if its backend is local (for lock details). */
  localStateFile(run: Run): string | null;
  /** Called with every run that reaches a final state through this job. */
  onFinal?(run: Run): Promise<void>;
}

const TAIL_BYTES = 4096;

/** Terraform's local backend keeps lock details in `.<statefile>.lock.info` beside the state file. */
export function localLockInfoPath(stateFile: string): string {
  return path.join(path.dirname(stateFile), `.${path.basename(stateFile)}.lock.info`);
}

/** Pure: why an approved run must not be applied, or null. */
export function applyPreconditionFailure(run: Run, planFileSha256: string | null): string | null {
  if (run.state !== 'approved') return `run is ${run.state}, not approved`;
  if (!run.plan || !run.decision) return 'run has no recorded approval';
  if (run.decision.decision !== 'approve') return 'the recorded decision is not an approval';
  if (run.decision.planSha256 !== run.plan.sha256) return 'the approval is bound to a different plan';
  if (planFileSha256 === null) return 'the saved plan file is missing';
  if (planFileSha256 !== run.plan.sha256) return 'the plan file on disk differs from the approved plan (sha256 mismatch)';
  return null;
}

export function createApplySteps(deps: ApplyStepsDeps) {
  const { runs, audit } = deps;

  async function outputTail(run: Run): Promise<string> {
    const text = await readFile(deps.paths.job(run.id).applyLog, 'utf8').catch(() => '');
    return deps.scrubber.scrubString(text.slice(-TAIL_BYTES));
  }

  async function localLockId(run: Run): Promise<string | undefined> {
    const state = deps.localStateFile(run);
    if (!state) return undefined;
    try {
      const info = JSON.parse(await readFile(localLockInfoPath(state), 'utf8')) as { ID?: string };
      return info.ID;
    } catch {
      return undefined;
    }
  }

  async function end(run: Run): Promise<void> {
    await deps.onFinal?.(run);
  }

  const steps = {
    /** A worker died while holding this apply: record what is known and hand it to a human. */
    async abandon(runId: string, reason: string): Promise<Run | null> {
      const current = await runs.find(runId);
      if (!current) return null;
      if (current.state === 'approved') {
        // The worker died before the point of no return: nothing ran.
        const failed = await runs.moveIf(runId, ['approved'], 'failed', { error: { code: 'airlock:apply-not-started', message: `${reason}; nothing was applied. Approve a new plan to try again.` } });
        if (failed) await audit.append({ type: 'apply.failed', ...describeRun(failed), actor: RUNNER_ACTOR, detail: { code: 'airlock:apply-not-started', reason } });
        return failed;
      }
      if (current.state !== 'applying') return null;
      const lockId = await localLockId(current);
      const tail = await outputTail(current);
      const moved = await runs.moveIf(runId, ['applying'], 'needs_attention', {
        attention: { reason, ...(lockId ? { lockId } : {}), outputTail: tail },
      });
      if (!moved) return null;
      await audit.append({ type: 'apply.needs_attention', ...describeRun(moved), actor: RUNNER_ACTOR, detail: { reason, lockId: lockId ?? null } });
      deps.log.error({ runId, lockId, reason }, 'apply interrupted: needs a human');
      return moved;
    },

    /** Run the apply job for `runId`. Never throws for BullMQ to retry: an apply is attempted once. */
    async apply(runId: string): Promise<void> {
      const run = await runs.get(runId);
      const log = deps.log.child({ runId, repo: run.repo, workspace: run.workspace, sha: run.sha });
      if (run.state === 'applying') {
        await steps.abandon(runId, 'the apply was interrupted (the worker stopped mid-apply); it is never re-run automatically');
        return;
      }
      const job = deps.paths.job(run.id);

      // verify
      const fileSha = await sha256File(job.planFile).catch(() => null);
      const failure = applyPreconditionFailure(run, fileSha);
      if (failure) {
        if (run.state !== 'approved') {
          log.warn({ state: run.state }, 'apply skipped: run is not approved');
          return;
        }
        const failed = await runs.moveIf(run.id, ['approved'], 'failed', { error: { code: 'airlock:apply-refused', message: failure } });
        await audit.append({ type: 'apply.refused', ...describeRun(failed ?? run), actor: RUNNER_ACTOR, detail: { reason: failure, planFileSha256: fileSha } });
        log.error({ reason: failure }, 'apply refused');
        if (failed) await end(failed);
        return;
      }

      // lock
      const lock = await deps.locks.acquire(run.repo, run.workspace, `${deps.runnerId}@${thisHost}:${process.pid}`, deps.workspaceLockWaitMs);
      if (!lock) {
        const failed = await runs.moveIf(run.id, ['approved'], 'failed', { error: { code: 'airlock:workspace-busy', message: 'another apply held the workspace lock for too long' } });
        await audit.append({ type: 'apply.failed', ...describeRun(failed ?? run), actor: RUNNER_ACTOR, detail: { code: 'airlock:workspace-busy' } });
        if (failed) await end(failed);
        return;
      }
      try {
        // the point of no return: from here on a crash means needs_attention, never a second apply
        const applying = await runs.moveIf(run.id, ['approved'], 'applying', {
          apply: { startedAt: new Date().toISOString(), fence: lock.fence, runnerId: deps.runnerId, host: thisHost, pid: process.pid },
        });
        if (!applying) {
          log.warn('run left approved before the apply started; nothing applied');
          return;
        }
        await audit.append({ type: 'apply.started', ...describeRun(applying), actor: RUNNER_ACTOR, detail: { fence: lock.fence } });
        if (!(await lock.isHeld())) throw new AirlockError('airlock:lock-lost', 'lost the workspace lock before applying');
        log.info({ fence: lock.fence }, 'applying');

        let ended: Run | null;
        try {
          const result = await deps.engine.apply(
            { cwd: deps.workDir(applying), homeDir: job.home, logFile: job.applyLog, onLine: (line) => log.debug({ engine: line }, 'engine output') },
            job.planFile,
          );
          ended = await runs.moveIf(run.id, ['applying'], 'applied', { apply: { ...applying.apply!, finishedAt: new Date().toISOString() } });
          await audit.append({ type: 'apply.finished', ...describeRun(ended ?? applying), actor: RUNNER_ACTOR, detail: { outcome: 'applied', durationMs: result.durationMs, fence: lock.fence } });
          log.info({ durationMs: result.durationMs }, 'applied');
        } catch (thrown) {
          const err = toError(thrown);
          const code = err instanceof AirlockError ? err.code : 'airlock:apply-error';
          const lockInfo = (err as { lockInfo?: { id?: string } }).lockInfo;
          const message = deps.scrubber.scrubString(err.message);
          ended = await runs.moveIf(run.id, ['applying'], 'failed', {
            error: { code, message },
            ...(lockInfo?.id ? { attention: { reason: message, lockId: lockInfo.id, outputTail: await outputTail(applying) } } : {}),
          });
          await audit.append({ type: 'apply.failed', ...describeRun(ended ?? applying), actor: RUNNER_ACTOR, detail: { code, message, lockId: lockInfo?.id ?? null } });
          log.error({ err, code }, 'apply failed');
        }
        if (ended) await end(ended);
      } finally {
        await lock.release();
      }
    },
  };
  return steps;
}

export type ApplySteps = ReturnType<typeof createApplySteps>;
