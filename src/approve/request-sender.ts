// Sending requests out: the text from the runner's plan view, tokens, bindings, the expiry timer, the audit
// record, then the channel; and the cap on requests out at once, whose waiting runs go out oldest first as
// slots free. A held request is re-read from Redis only to find which run goes next, never for its text.
import type { Actor, Run } from '../run/run.ts';
import { describeRun, RUNNER_ACTOR } from '../run/describe.ts';
import { toError } from '../errors.ts';
import type { ApprovalServiceDeps, RequestPhase } from './approval-service.ts';
import { bindingFor, hashToken, newToken } from './approve.ts';
import { approvalTextSha256, PlanViewError, renderApprovalText, runAsViewed, viewMismatch, type ApprovalText, type PlanView } from './plan-view.ts';
import { QUARANTINE_EVENT } from '../lib/redis-input.ts';

type SenderDeps = Omit<ApprovalServiceDeps, 'now' | 'maxPending'> & { now: () => Date; maxPending: number };

/** A request ready to go out: its text, and the approvers' tokens whose bindings are stored. */
interface Prepared {
  view: PlanView;
  text: ApprovalText;
  textSha256: string;
  requests: Array<{ approver: string | null; token: string }>;
}

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
   * Render the text from the plan view and store one sealed binding (with the text's sha256) per approver.
   * Done before the run is shown as waiting, so a decision never finds a waiting run without its bindings.
   * An Error means the run does not match the runner's view: nothing is stored, and nothing will be sent.
   */
  async function prepare(run: Run, expiresAt: Date, phase: RequestPhase, approvers: Array<string | null>): Promise<Prepared | Error> {
    let view: PlanView;
    try {
      view = await viewFor(run);
    } catch (thrown) {
      return toError(thrown);
    }
    const text = renderApprovalText(view, expiresAt, phase);
    const textSha256 = approvalTextSha256(text);
    const requests = approvers.map((approver) => ({ approver, token: newToken() }));
    for (const r of requests) {
      await deps.approvals.put(bindingFor(view, { channel: deps.channel.name, approver: r.approver, phase, expiresAt, tokenHash: hashToken(r.token), textSha256 }));
    }
    return { view, text, textSha256, requests };
  }

  /** Bindings prepared for a run that then did not wait after all: removed, leaving any other request alone. */
  async function discard(runId: string, prepared: Prepared | Error): Promise<void> {
    if (!(prepared instanceof Error)) await deps.approvals.discard(runId, prepared.requests.map((r) => hashToken(r.token)));
  }

  /**
   * The expiry timer, the audit record, then the channel. A channel failure leaves the request pending; a
   * run whose record does not match the runner's view is on record as undelivered and expires.
   */
  async function dispatch(run: Run, expiresAt: Date, phase: RequestPhase, prepared: Prepared | Error, actor: Actor = RUNNER_ACTOR, via?: Record<string, string>): Promise<void> {
    await deps.scheduleExpiry(run.id, expiresAt);
    if (prepared instanceof Error) {
      const code = (prepared as { code?: string }).code ?? null;
      await deps.audit.append({ type: 'approval.undelivered', ...describeRun(run), actor: RUNNER_ACTOR, detail: { channel: deps.channel.name, phase, code, message: prepared.message } });
      deps.log.error({ err: prepared, runId: run.id, event: QUARANTINE_EVENT, code }, 'approval request not sent: the run does not match the plan the runner made');
      return;
    }
    const { view, text, textSha256, requests } = prepared;
    const shown = runAsViewed(run, view);
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
      const { code } = err as { code?: unknown };
      await deps.audit.append({ type: 'approval.undelivered', ...describeRun(shown), actor: RUNNER_ACTOR, detail: { channel: deps.channel.name, phase, message: err.message, code: typeof code === 'string' ? code : null } });
      deps.log.error({ err, runId: run.id }, 'the approval request could not be delivered; it stays pending until it expires (break-glass: `airlock approve|deny`)');
    }
  }

  /** Prepare and dispatch in one go, for a run already waiting (the second tap of a destructive plan). */
  async function send(run: Run, expiresAt: Date, phase: RequestPhase, approvers: Array<string | null>, actor: Actor = RUNNER_ACTOR, via?: Record<string, string>): Promise<void> {
    await dispatch(run, expiresAt, phase, await prepare(run, expiresAt, phase, approvers), actor, via);
  }

  /**
   * Forget the slots of runs that no longer wait (a crash, or a path that ended a run without releasing):
   * reads only the runs holding a slot, at most the cap. Stale entries of the held queue need no read here:
   * sendHeld promotes them in turn and releases each that is not waiting.
   */
  async function tidySlots(): Promise<void> {
    for (const id of await deps.approvals.pendingRuns()) {
      if (!holdsSlot(await deps.runs.find(id))) await deps.approvals.releaseSlot(id);
    }
  }

  async function sendHeld(): Promise<void> {
    if (!deps.sendsHeld) return;
    // The first round tidies the slots (a run no longer waiting gives its slot back) and sends any run a
    // crash left holding a slot but unsent.
    let batch = await deps.approvals.pendingRuns();
    for (let round = 0; round < 100 && (round === 0 || batch.length > 0); round++) {
      for (const id of batch) {
        const current = await deps.runs.find(id);
        if (!isHeld(current)) {
          if (!holdsSlot(current)) await deps.approvals.releaseSlot(id);
          continue;
        }
        const expiresAt = new Date(now().getTime() + deps.ttlMs);
        const prepared = await prepare(current, expiresAt, 'approve', deps.channel.approvers());
        const run = await deps.runs.update(id, (r) =>
          isHeld(r) ? { ...r, approval: { ...r.approval!, held: false, requestedAt: now().toISOString(), expiresAt: expiresAt.toISOString() }, updatedAt: now().toISOString() } : null,
        );
        if (run) await dispatch(run, expiresAt, 'approve', prepared);
        else await discard(id, prepared);
      }
      batch = await deps.approvals.promoteHeld(maxPending, now().getTime());
    }
  }

  return { prepare, dispatch, discard, send, sendHeld, tidySlots };
}

function isHeld(run: Run | null): run is Run {
  return run !== null && run.state === 'awaiting_approval' && run.approval?.held === true;
}

/** A run keeps its request slot while it waits for a decision, and between claiming one and waiting. */
function holdsSlot(run: Run | null): boolean {
  return run !== null && (run.state === 'awaiting_approval' || run.state === 'planning');
}
