// A plan job whose worker died mid-plan more often than the queue allows (BullMQ fails a job that
// stalled more than `maxStalledCount` times, without running it again). The run would stay `planning`
// forever; it ends `failed` on the record instead, saying what happened and what to do.
import type { Logger } from 'pino';
import type { RunStore } from '../apply/run-store.ts';
import type { Run } from '../apply/run.ts';
import { describeRun, RUNNER_ACTOR } from '../audit/audit.ts';
import type { AuditLog } from '../audit/audit-log.ts';

export const PLAN_INTERRUPTED = 'airlock:plan-interrupted';

/** Move a run left `planning` by dead workers to `failed`, with an audit record; null if it was not planning. */
export async function failInterruptedPlan(deps: { runs: RunStore; audit: AuditLog; log: Logger }, runId: string): Promise<Run | null> {
  const message = `the runner planning this head stopped mid-plan more than once (killed, or lost its Redis lock); nothing was planned. Next: run \`airlock replan ${runId}\` to plan it again.`;
  const ended = await deps.runs.moveIf(runId, ['planning'], 'failed', { error: { code: PLAN_INTERRUPTED, message } });
  if (!ended) return null;
  await deps.audit.append({ type: 'plan.failed', ...describeRun(ended), actor: RUNNER_ACTOR, detail: { code: PLAN_INTERRUPTED, message } });
  deps.log.error({ runId, code: PLAN_INTERRUPTED }, 'plan interrupted too often: the run failed');
  return ended;
}
