// Whether a decision may count, before anything is consumed: pure rules over what the service looked up.
// The order matters: who decides is checked before what the token says, so a refusal names the first
// thing wrong. The checks after the atomic consume (binding, shown text) live in approve.ts.
import type { Actor, Run } from '../run/run.ts';
import { needsConfirmation } from '../policy/policy.ts';
import type { PasskeyAssertion } from './passkey-step.ts';
import type { ApprovalBinding, Decision } from './approve.ts';
import { confirmationReason } from './confirmation.ts';
import type { PlanView } from './plan-view.ts';

export interface DecisionInput {
  decision: Decision;
  by: Actor;
  channel: string;
  /** The presented token; absent for break-glass decisions on the runner host. */
  token?: string;
  runId?: string;
  /** The human has given the second, explicit confirmation a destructive plan needs (break-glass only). */
  confirmed?: boolean;
  /** The approver whose own reply channel carried the token: it must have been issued to them. */
  approver?: string;
  /** Where the decision came from, for the audit record (for example the ntfy topic and message id). */
  via?: Record<string, string>;
  passkey?: PasskeyAssertion;
}

/** A reply that never became a decision (malformed, say) still goes on record with who and where. */
export type RefusalInput = Omit<DecisionInput, 'decision'> & { decision?: Decision };

export interface DecisionFacts {
  input: { decision: Decision; by: Actor; approver?: string; confirmed?: boolean };
  run: Run;
  /** This process's runner id; decisions are taken only on the runner that planned. */
  runnerId?: string | undefined;
  /** The agent the deciding identity belongs to, or null. */
  agent: string | null;
  /** The tombstone of a spent token, when the token was already used or voided. */
  spent: { reason: string } | null;
  /** The binding of a presented token, read without consuming it. */
  peeked: ApprovalBinding | null;
  /** A token came with the decision (a tap), rather than a break-glass decision on the runner host. */
  tokenPresented: boolean;
  /** The runner's own view of the plan: its tier and what was shown. */
  view: PlanView | null;
}

export interface Refusal {
  reason: string;
  hint?: string;
}

/** An approval of a plan whose tier needs the second confirmation. */
export function isDestructive(f: Pick<DecisionFacts, 'input' | 'run' | 'view'>): boolean {
  const tier = f.view?.tier ?? f.run.plan?.tier;
  return f.input.decision === 'approve' && tier !== undefined && needsConfirmation(tier);
}

/** Why the decision may not count, or null when it may go on to consume its binding. */
export function decisionRefusal(f: DecisionFacts): Refusal | null {
  const { input, run, peeked } = f;
  if (input.by.kind !== 'human') return { reason: `decisions must come from a human, not a ${input.by.kind}` };
  // The plan file and the audit chain the apply checks live on the runner that planned.
  if (f.runnerId !== undefined && run.plan?.runnerId !== undefined && run.plan.runnerId !== f.runnerId) {
    return { reason: `planned by runner ${run.plan.runnerId}, so only it can take the decision`, hint: `Decide on the host of runner ${run.plan.runnerId} (its config and audit chain).` };
  }
  if (f.agent !== null) return { reason: `${input.by.id} is an identity of the agent ${f.agent}: an agent can never decide` };
  if (f.spent) return { reason: f.spent.reason === 'already used' ? 'replayed: this nonce was already used' : `void: ${f.spent.reason}` };
  if (peeked && input.approver !== undefined && peeked.approver !== input.approver) {
    return { reason: `the nonce was issued to ${peeked.approver ?? 'the runner host'}, but the reply came on ${input.approver}'s reply topic` };
  }
  if (isDestructive(f) && !f.tokenPresented && !input.confirmed) {
    return { reason: `this plan needs an explicit confirmation (tier confirm): ${confirmationReason(f.view ?? run.plan!)}`, hint: `Read \`airlock show ${run.id}\`, then re-run with --confirm.` };
  }
  // Break-glass takes any binding of the run: only of a waiting one, or it would void a request being prepared.
  if (!f.tokenPresented && run.state !== 'awaiting_approval') return { reason: `run is ${run.state}` };
  if (!f.tokenPresented && run.approval?.held) {
    return { reason: 'the request is held back behind the cap on pending requests and has not been sent yet', hint: 'Decide the pending runs first, or raise `approval.maxPending`.' };
  }
  return null;
}
