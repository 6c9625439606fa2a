// A run's life, start to end. Read this file first: each line is a step, and each step is a function you
// can jump to. Every state change on the way goes through src/run/transitions.ts, which records it in
// the audit log and tells subscribers.
//
//   sighted     watch/watcher.ts           a new head of a watched ref becomes a run (state planning)
//   ── plan job (jobs/plan-job.ts runs the steps in order; a newer head or `airlock cancel` stops it between any two) ──
//   checkout    jobs/plan-steps.ts         fetch the exact sha, export its tree, attribute the commit
//   guard       guard/guard.ts             refuse what would run code or read files at plan time
//   init        engine (sandboxed)         with the plan identity's read-only secrets
//   plan        engine (sandboxed)         no changes → no_changes, the run ends here
//   summarize   plan/read-plan-json.ts     show → summary → policy tier → the approvers' plan view
//   decide      jobs/policy-steps.ts       auto → approved, deny → denied; otherwise ask a human
//               approve/approval-service   awaiting_approval → approved | denied | expired | superseded
//   ── apply job (jobs/apply-job.ts) ──
//   verify      the plan file's bytes are the approved ones, and the approval is on the audit chain
//   lock        the workspace lock, with a fencing token
//   credentials the apply identity, fetched under the lock
//   apply       approved → applying (the point of no return) → applied | failed | needs_attention
//   record      revoke the credentials, record the outcome, tell the approvers, delete the job dir
import type { PlanSteps, PlanContext } from './plan-steps.ts';
import type { Step } from './step-loop.ts';

/** The plan job, as the list of steps it runs. */
export function planProcess(steps: PlanSteps): ReadonlyArray<Step<PlanContext>> {
  return [steps.checkout, steps.guard, steps.init, steps.plan, steps.summarize, steps.decide];
}
