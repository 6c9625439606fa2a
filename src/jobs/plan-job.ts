// The plan job: runs the plan process's steps for one run, and ends the run when a step fails for good.
// A failure another attempt may fix is thrown for BullMQ to retry; a newer head ends the job quietly.
import type { Logger } from 'pino';
import { describeRun, RUNNER_ACTOR } from '../run/describe.ts';
import type { Run } from '../run/run.ts';
import { engineOutputTail } from '../engine/output-tail.ts';
import { AirlockError, toError } from '../errors.ts';
import { describeViolation, GuardRefusedError } from '../guard/guard.ts';
import { resumePolicyApproval } from './policy-steps.ts';
import { createPlanSteps, type PlanContext, type PlanStepsDeps } from './plan-steps.ts';
import { planProcess } from './process.ts';
import { runSteps, stepTimesObject } from './step-loop.ts';

export { APPLIES_OFF_REASON } from './plan-steps.ts';
export { engineOutputTail } from '../engine/output-tail.ts';

export interface PlanJobDeps extends PlanStepsDeps {
  /** Hears each step's time (the overhead benchmark). */
  onStep?(runId: string, step: string, ms: number): void;
}

/** Whether a plan failure is worth another attempt: by its code's registration (error-codes.ts). */
export function isRetryable(err: unknown): boolean {
  return err instanceof AirlockError ? err.retryable : true;
}

/** A newer head replaced the run while it was planning: the job stops between two steps. */
export class SupersededError extends AirlockError {
  constructor(runId: string, by: string) {
    super('airlock:superseded', `run ${runId} was superseded by ${by} while planning`);
  }
}

/** The run left planning while its job ran (an operator cancelled it, say): the job stops between steps. */
export class RunMovedOnError extends AirlockError {
  constructor(runId: string, state: string) {
    super('airlock:plan-stopped', `run ${runId} is ${state}, no longer planning; its plan job stopped`);
  }
}

/** The plan job ended the run; BullMQ must not retry it. */
export class PlanEndedError extends AirlockError {
  constructor(cause: Error) {
    super('airlock:plan-ended', cause.message, { cause });
  }
}

export function createPlanJob(deps: PlanJobDeps) {
  const { runs, audit, paths } = deps;
  const steps = planProcess(createPlanSteps(deps));

  /** Between two steps: stop when a newer head took over, or when the run left planning (cancelled, say). */
  async function stillWanted(ctx: PlanContext): Promise<void> {
    const latest = await runs.latestFor(ctx.run);
    if (latest !== null && latest !== ctx.run.id) {
      await deps.approvals.supersede(ctx.run.id, latest);
      throw new SupersededError(ctx.run.id, latest);
    }
    const now = await runs.find(ctx.run.id);
    if (now?.state !== 'planning') throw new RunMovedOnError(ctx.run.id, now?.state ?? 'gone');
  }

  /** Record a failure: retried (thrown as is) while attempts remain, else the run ends refused or failed. */
  async function failed(ctx: PlanContext, thrown: unknown): Promise<never> {
    const { run, log, attempt } = ctx;
    const err = toError(thrown);
    const code = err instanceof AirlockError ? err.code : 'airlock:plan-error';
    if (isRetryable(err) && attempt.attempt < attempt.maxAttempts) {
      await audit.append({ type: 'plan.retry', ...describeRun(run), actor: RUNNER_ACTOR, detail: { code, message: err.message, attempt: attempt.attempt } });
      log.warn({ err, attempt: attempt.attempt }, 'plan attempt failed; will retry');
      throw err;
    }
    const refused = code === 'airlock:guard-refused' || code === 'airlock:checkout-refused';
    const tail = engineOutputTail(err);
    await deps.transitions.move(run, {
      from: ['planning'],
      to: refused ? 'refused' : 'failed',
      patch: { error: { code, message: err.message, ...(tail ? { tail } : {}) }, ...(refused ? { refusal: refusalLines(err) } : {}) },
      record: {
        type: refused ? 'plan.refused' : 'plan.failed',
        detail: { code, message: err.message, attempts: attempt.attempt, ...(refused ? { reasons: refusalLines(err) } : {}) },
        evenIfUnmoved: true,
      },
    });
    log.error({ err }, refused ? 'plan refused' : 'plan failed');
    throw new PlanEndedError(err);
  }

  return {
    /** Run the plan job for `runId`. Throws when BullMQ should retry; ends the run itself otherwise. */
    async plan(runId: string, attempt: { attempt: number; maxAttempts: number }): Promise<void> {
      const run: Run = await runs.get(runId);
      if (run.state !== 'planning') {
        await resumePolicyApproval(deps, run);
        return;
      }
      const log: Logger = deps.log.child({ runId, repo: run.repo, workspace: run.workspace, sha: run.sha });
      const ctx: PlanContext = { run, log, job: paths.job(run.id), attempt, creds: null };
      try {
        const times = await runSteps(steps, ctx, { before: stillWanted, onStep: (step, ms) => deps.onStep?.(runId, step, ms) });
        log.debug({ steps: stepTimesObject(times) }, 'plan job steps');
      } catch (thrown) {
        await ctx.creds?.release(); // revoked before the outcome is recorded, as on success
        if (thrown instanceof SupersededError) return;
        if (thrown instanceof RunMovedOnError) {
          log.info({ state: (await runs.find(runId))?.state }, 'plan job stopped: the run is no longer planning');
          return;
        }
        await failed(ctx, thrown);
      } finally {
        await ctx.creds?.release();
      }
    },
  };
}

/** One line per broken rule (rule id, file, block address) for `airlock show` and the audit log. */
function refusalLines(err: Error): string[] {
  return err instanceof GuardRefusedError ? err.violations.map(describeViolation) : [err.message];
}
