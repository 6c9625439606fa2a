// Sending requests out: tokens, bindings, the expiry timer, the audit record, then the channel; and the
// cap on requests out at once, whose waiting runs go out oldest first as slots free.
import type { Actor, Run } from '../apply/run.ts';
import { describeRun, RUNNER_ACTOR } from '../audit/audit.ts';
import { toError } from '../errors.ts';
import type { ApprovalServiceDeps, RequestPhase } from './approval-service.ts';
import { bindingFor, hashToken, newToken } from './approve.ts';

type SenderDeps = Omit<ApprovalServiceDeps, 'now' | 'maxPending'> & { now: () => Date; maxPending: number };

export function createRequestSender(deps: SenderDeps) {
  const { now, maxPending } = deps;

  /** Tokens, bindings, expiry timer, audit, then the channel. A channel failure leaves the request pending. */
  async function send(run: Run, expiresAt: Date, phase: RequestPhase, approvers: Array<string | null>, actor: Actor = RUNNER_ACTOR, via?: Record<string, string>): Promise<void> {
    const requests = approvers.map((approver) => ({ approver, token: newToken() }));
    for (const r of requests) {
      await deps.approvals.put(bindingFor(run, { channel: deps.channel.name, approver: r.approver, phase, expiresAt, tokenHash: hashToken(r.token) }));
    }
    await deps.scheduleExpiry(run.id, expiresAt);
    await deps.audit.append({
      type: phase === 'approve' ? 'approval.requested' : 'approval.confirm-requested',
      ...describeRun(run),
      actor,
      detail: { channel: deps.channel.name, phase, approvers: requests.map((r) => r.approver ?? 'runner-host'), expiresAt: expiresAt.toISOString(), ...(via ? { via } : {}) },
    });
    try {
      await deps.channel.deliver(run, requests, expiresAt, phase);
    } catch (thrown) {
      const err = toError(thrown);
      await deps.audit.append({ type: 'approval.undelivered', ...describeRun(run), actor: RUNNER_ACTOR, detail: { channel: deps.channel.name, phase, message: err.message } });
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

  return { send, sendHeld, tidySlots };
}

/** A run keeps its request slot while it waits for a decision, and between claiming one and waiting. */
function holdsSlot(run: Run | null): boolean {
  return run !== null && (run.state === 'awaiting_approval' || run.state === 'planning');
}
