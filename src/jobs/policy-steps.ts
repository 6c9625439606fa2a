// The plan job's last step when the policy, not a human, decides: an `auto` plan is approved by the
// policy and queued for apply exactly as a human approval would be; a `deny` plan ends `denied`. Both are
// recorded like a human decision, with the policy as the actor and the deciding rules in the audit record.
import type { Logger } from 'pino';
import type { RunTransitions } from '../run/transitions.ts';
import type { Actor, Run } from '../run/run.ts';
import type { PolicyDecision } from '../policy/policy.ts';

export const POLICY_ACTOR: Actor = { kind: 'runner', id: 'policy' };
export const POLICY_CHANNEL = 'policy';

export interface PolicyStepDeps {
  transitions: Pick<RunTransitions, 'move'>;
  log: Logger;
  enqueueApply(runId: string): Promise<void>;
}

/** Settle a planned run the policy decides alone; null when a human must decide (or the run moved on). */
export async function settleByPolicy(deps: PolicyStepDeps, run: Run, decision: PolicyDecision): Promise<Run | null> {
  if (decision.tier !== 'auto' && decision.tier !== 'deny') return null;
  const approve = decision.tier === 'auto';
  const settled = await deps.transitions.move(run, {
    from: ['planning'],
    to: approve ? 'approved' : 'denied',
    patch: { decision: { decision: approve ? 'approve' : 'deny', by: POLICY_ACTOR, channel: POLICY_CHANNEL, breakGlass: false, at: new Date().toISOString(), planSha256: run.plan!.sha256 } },
    record: {
      type: approve ? 'approval.granted' : 'approval.denied',
      actor: POLICY_ACTOR,
      detail: { channel: POLICY_CHANNEL, breakGlass: false, rules: decision.rules, reason: decision.reasons[0] ?? null, reasons: decision.reasons },
    },
    log: { level: 'info', msg: approve ? 'approved by policy' : 'denied by policy', fields: { rules: decision.rules, tier: decision.tier }, logger: deps.log },
  });
  if (settled && approve) await deps.enqueueApply(settled.id);
  return settled;
}

/** A policy approval whose apply was never queued (the worker died in between) is queued again. */
export async function resumePolicyApproval(deps: Pick<PolicyStepDeps, 'enqueueApply'>, run: Run): Promise<boolean> {
  if (run.state !== 'approved' || run.decision?.channel !== POLICY_CHANNEL) return false;
  await deps.enqueueApply(run.id);
  return true;
}
