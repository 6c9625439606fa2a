// Sending requests out: the text from the runner's plan view, tokens, bindings, the expiry timer, the audit
// record, then the channel; and the cap on requests out at once, whose waiting runs go out oldest first as
// slots free. A held request is re-read from Redis only to find which run goes next, never for its text.
import type { Actor, Run } from '../apply/run.ts';
import { describeRun, RUNNER_ACTOR } from '../audit/audit.ts';
import { toError } from '../errors.ts';
import type { ApprovalServiceDeps, RequestPhase } from './approval-service.ts';
import { bindingFor, hashToken, newToken } from './approve.ts';
import { approvalTextSha256, PlanViewError, renderApprovalText, runAsViewed, viewMismatch, type PlanView } from './plan-view.ts';
import { QUARANTINE_EVENT } from '../queue/redis-input.ts';

type SenderDeps = Omit<ApprovalServiceDeps, 'now' | 'maxPending'> & { now: () => Date; maxPending: number };

export function createRequestSender(deps: SenderDeps) {
  const { now, maxPending } = deps;

  /** The runner's own view of the run's plan, checked against the run; the request text comes only from it. */
  async function viewFor(run: Run): Promise<PlanView> {
    const view = await deps.planView(run.id);
    const problem = viewMismatch(view, { runId: run.id, planSha256: run.plan?.sha256 ?? '', tier: run.plan?.tier });
    if (problem !== null || view === null) throw new PlanViewError(run.id, `${problem ?? 'missing'}; the run record in Redis does not match what the runner planned`);
    return view;
  }

  /**
   * Render the text from the plan view, then tokens, bindings (with the text's sha256), expiry timer,
   * audit, and the channel. A channel failure leaves the request pending; a run whose record does not
   * match the runner's view sends nothing and expires.
   */
  async function send(run: Run, expiresAt: Date, phase: RequestPhase, approvers: Array<string | null>, actor: Actor = RUNNER_ACTOR, via?: Record<string, string>): Promise<void> {
    let view: PlanView;
    try {
      view = await viewFor(run);
    } catch (thrown) {
      const err = toError(thrown);
      await deps.scheduleExpiry(run.id, expiresAt);
      await deps.audit.append({ type: 'approval.undelivered', ...describeRun(run), actor: RUNNER_ACTOR, detail: { channel: deps.channel.name, phase, code: (err as { code?: string }).code ?? null, message: err.message } });
      deps.log.error({ err, runId: run.id, event: QUARANTINE_EVENT, code: (err as { code?: string }).code }, 'approval request not sent: the run does not match the plan the runner made');
      return;
    }
    const shown = runAsViewed(run, view);
    const text = renderApprovalText(view, expiresAt, phase);
    const textSha256 = approvalTextSha256(text);
    const requests = approvers.map((approver) => ({ approver, token: newToken() }));
    for (const r of requests) {
      await deps.approvals.put(bindingFor(view, { channel: deps.channel.name, approver: r.approver, phase, expiresAt, tokenHash: hashToken(r.token), textSha256 }));
    }
    await deps.scheduleExpiry(run.id, expiresAt);
    await deps.audit.append({
      type: phase === 'approve' ? 'approval.requested' : 'approval.confirm-requested',
      ...describeRun(shown),
      actor,
      detail: { channel: deps.channel.name, phase, approvers: requests.map((r) => r.approver ?? 'runner-host'), expiresAt: expiresAt.toISOString(), textSha256, ...(via ? { via } : {}) },
    });
    try {
      await deps.channel.deliver(shown, requests, expiresAt, phase, text);
    } catch (thrown) {
      const err = toError(thrown);
      await deps.audit.append({ type: 'approval.undelivered', ...describeRun(shown), actor: RUNNER_ACTOR, detail: { channel: deps.channel.name, phase, message: err.message } });
      deps.log.error({ err, runId: run.id }, 'the approval request could not be delivered; it stays pending until it expires (break-glass: `airlock approve|deny`)');
    }
  }

  /** Forget slots of runs that are no longer waiting; send out any run a crash left promoted but unsent. */
  async function tidySlots(): Promise<void> {
    for (const id of [...(await deps.approvals.pendingRuns()), ...(await deps.approvals.heldRuns())]) {
      if (!holdsSlot(await deps.runs.find(id))) await deps.approvals.releaseSlot(id);
    }
  }

  async function sendHeld(): Promise<void> {
    if (!deps.sendsHeld) return;
    await tidySlots();
    // The first round also sends any run a crash left holding a slot but unsent.
    let batch = await deps.approvals.pendingRuns();
    for (let round = 0; round < 100 && (round === 0 || batch.length > 0); round++) {
      for (const id of batch) {
        const expiresAt = new Date(now().getTime() + deps.ttlMs);
        const run = await deps.runs.update(id, (r) =>
          r.state === 'awaiting_approval' && r.approval?.held
            ? { ...r, approval: { ...r.approval, held: false, requestedAt: now().toISOString(), expiresAt: expiresAt.toISOString() }, updatedAt: now().toISOString() }
            : null,
        );
        if (run) await send(run, expiresAt, 'approve', deps.channel.approvers());
        else if (!holdsSlot(await deps.runs.find(id))) await deps.approvals.releaseSlot(id);
      }
      batch = await deps.approvals.promoteHeld(maxPending, now().getTime());
    }
  }

  return { send, sendHeld, tidySlots, viewFor };
}

/** A run keeps its request slot while it waits for a decision, and between claiming one and waiting. */
function holdsSlot(run: Run | null): boolean {
  return run !== null && (run.state === 'awaiting_approval' || run.state === 'planning');
}
