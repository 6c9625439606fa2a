// Requests go out through a channel; decisions come back and are checked against the binding before the
// run moves. A destructive plan takes two taps: the first Approve only asks for a confirmation. Every
// refusal is audited with its reason, and changes nothing else. At most `maxPending` requests are out at
// once; the rest wait, oldest first, and go out as earlier ones are answered.
import type { Logger } from 'pino';
import type { RunStore } from '../run/run-store.ts';
import type { MoveSpec, RunTransitions } from '../run/transitions.ts';
import type { Actor, Run } from '../run/run.ts';
import { describeRun, RUNNER_ACTOR } from '../run/describe.ts';
import { isRunId } from '../run/run-schema.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ApprovalStore } from './approval-store.ts';
import { bindingMismatch, hashToken, shownTextMismatch, tokenMatches, type ApprovalBinding, type Decision } from './approve.ts';
import { runAsViewed, type ApprovalText, type PlanView } from './plan-view.ts';
import { ApprovalRefusedError } from './errors.ts';
import { recordRefusal } from './refusal-record.ts';
import type { AirlockCode } from '../errors.ts';
import { decisionRefusal, isDestructive, type DecisionInput, type RefusalInput } from './decision-rules.ts';
import { createRequestSender } from './request-sender.ts';
import type { ApprovalChannel } from './channel.ts';
import { createPasskeyStep, type PasskeyAssertion, type PasskeyGate, type PasskeyProof } from './passkey-step.ts';

export type { ApprovalChannel, RequestPhase } from './channel.ts';
export type { DecisionInput, RefusalInput } from './decision-rules.ts';

export interface ApprovalServiceDeps {
  runs: RunStore;
  /** Every state change of a run goes through here (src/run/transitions.ts). */
  transitions: Pick<RunTransitions, 'move'>;
  approvals: ApprovalStore;
  audit: AuditLog;
  channel: ApprovalChannel;
  /** `approval.channel`: decisions through any other channel (the CLI beside ntfy) are break-glass. */
  configuredChannel?: string;
  ttlMs: number;
  /** How long the second tap of a destructive plan may take after the first. */
  confirmTtlMs?: number;
  /** Requests out at once across the runner; the rest wait. */
  maxPending?: number;
  /** Only the runner sends waiting requests out when a slot frees; the CLI leaves that to it. */
  sendsHeld?: boolean;
  enqueueApply(runId: string): Promise<void>;
  scheduleExpiry(runId: string, at: Date): Promise<void>;
  /** The plan view the plan job wrote for a run (plan-view.ts), or null when there is none. */
  planView(runId: string): Promise<PlanView | null>;
  log: Logger;
  /** This process's runner id: decisions are taken only on the runner that planned the run. */
  runnerId?: string;
  now?: () => Date;
  /** The agent an approver identity belongs to (audit.agents), or null: an agent can never decide. */
  agentFor?: (identity: string) => string | null;
  passkey?: PasskeyGate;
}

export function createApprovalService(deps: ApprovalServiceDeps) {
  const now = deps.now ?? (() => new Date());
  const confirmTtlMs = deps.confirmTtlMs ?? 5 * 60_000;
  const maxPending = deps.maxPending ?? 20;
  const { prepare, dispatch, discard, send, sendHeld, tidySlots } = createRequestSender({ ...deps, now, maxPending });
  const configuredChannel = deps.configuredChannel ?? deps.channel.name;
  const isBreakGlass = (input: RefusalInput) => input.channel !== configuredChannel;

  /** The view, or null when missing or unusable (the decision is then refused with the reason). */
  async function viewOrNull(runId: string): Promise<PlanView | null> {
    return deps.planView(runId).catch((err: unknown) => {
      deps.log.error({ err, runId }, 'the plan view cannot be read');
      return null;
    });
  }

  async function refuse(run: Run | null, input: DecisionInput, reason: string, hint?: string, code?: AirlockCode): Promise<never> {
    await record(run, input, reason, isBreakGlass(input), code);
    throw new ApprovalRefusedError(run?.id ?? input.runId ?? null, reason, hint, code);
  }

  const passkey = createPasskeyStep({ ...deps, gate: deps.passkey, refuse });

  const record = (run: Run | null, input: RefusalInput, reason: string, breakGlass: boolean, code?: string) => recordRefusal(deps, run, input, reason, breakGlass, code);


  /** The run as the approvers were shown it: what the plan view says wins over the Redis record. */
  async function shown(run: Run): Promise<Run> {
    const view = await viewOrNull(run.id);
    return view ? runAsViewed(run, view) : run;
  }

  async function tell(run: Run, outcome: string): Promise<void> {
    // Nobody was asked about a run whose request never went out, so nobody is told about it either.
    if (!run.approval || run.approval.held) return;
    try {
      await deps.channel.announce?.(await shown(run), outcome);
    } catch (err) {
      deps.log.warn({ err, runId: run.id, outcome }, 'could not announce the outcome');
    }
  }

  async function finish(run: Run, outcome: string): Promise<void> {
    await deps.approvals.releaseSlot(run.id);
    await tell(run, outcome);
    await sendHeld();
  }

  /** The first Approve of a destructive plan: void the first-round tokens, ask the same human to confirm. */
  async function askConfirmation(run: Run, binding: ApprovalBinding, input: DecisionInput, proof: PasskeyProof | null): Promise<Run> {
    const expiresAt = new Date(now().getTime() + confirmTtlMs);
    const moved = await deps.runs.update(run.id, (r) =>
      r.state === 'awaiting_approval' && r.approval && r.approval.phase !== 'confirm' && r.plan?.sha256 === binding.planSha256
        ? { ...r, approval: { ...r.approval, phase: 'confirm', expiresAt: expiresAt.toISOString(), firstApproval: { by: input.by, at: now().toISOString() } }, updatedAt: now().toISOString() }
        : null,
    );
    if (!moved) return refuse(run, input, 'run changed while deciding');
    await passkey.recordFirstStep(run, binding, input.by, proof);
    await send(moved, expiresAt, 'confirm', [binding.approver], input.by, input.via);
    return moved;
  }

  /** End a run that has not started applying: void its requests so no tap on them can count, and say so. */
  async function endBeforeApply(runId: string, to: 'superseded' | 'cancelled', patch: Partial<Run>, record: MoveSpec['record'], voidReason: string): Promise<Run | null> {
    const run = await deps.transitions.move(runId, { from: ['planning', 'awaiting_approval', 'approved'], to, patch, record });
    if (!run) return null;
    await deps.approvals.voidRun(runId, voidReason);
    await finish(run, to);
    return run;
  }

  return {
    /** Move a freshly planned run to awaiting_approval and send the request out (or queue it behind the cap). */
    async request(run: Run): Promise<Run> {
      const requestedAt = now();
      const tier = run.plan!.tier;
      // Slots leaked by a crash are looked for only when the cap seems reached, not at every request:
      // that read costs one run per slot, and most requests find a free one.
      const claim = () => deps.approvals.claimSlot(run.id, maxPending, requestedAt.getTime());
      if (!(await claim()) && !(await tidySlots().then(claim))) {
        const held = await deps.transitions.move(run, {
          from: ['planning'],
          to: 'awaiting_approval',
          patch: { approval: { requestedAt: requestedAt.toISOString(), expiresAt: new Date(requestedAt.getTime() + deps.ttlMs).toISOString(), tier, channel: deps.channel.name, phase: 'approve', held: true } },
          record: { type: 'approval.held', detail: { maxPending, reason: `${maxPending} requests are already waiting for a decision; this one goes out when one of them is answered` } },
          log: { level: 'warn', msg: 'approval request held back: too many pending requests', fields: { maxPending }, logger: deps.log.child({ runId: run.id }) },
        });
        if (!held) {
          await deps.approvals.releaseSlot(run.id);
          return deps.runs.get(run.id);
        }
        return held;
      }
      const expiresAt = new Date(requestedAt.getTime() + deps.ttlMs);
      // Bindings first: once the run shows as waiting, a decision on it finds them.
      const prepared = await prepare(run, expiresAt, 'approve', deps.channel.approvers());
      const moved = await deps.transitions.move(run, {
        from: ['planning'],
        to: 'awaiting_approval',
        patch: { approval: { requestedAt: requestedAt.toISOString(), expiresAt: expiresAt.toISOString(), tier, channel: deps.channel.name, phase: 'approve' } },
      });
      if (!moved) {
        await discard(run.id, prepared);
        await deps.approvals.releaseSlot(run.id);
        return deps.runs.get(run.id);
      }
      await dispatch(moved, expiresAt, 'approve', prepared);
      return moved;
    },

    /** Apply a human decision; throws ApprovalRefusedError (after auditing it) when it may not count. */
    async decide(input: DecisionInput): Promise<Run> {
      await deps.audit.assertWritable?.(); // unrecordable: not taken, nothing consumed, request stays open
      const tokenHash = input.token === undefined ? null : hashToken(input.token);
      const peek = tokenHash ? await deps.approvals.peek(tokenHash) : null;
      if (peek?.foreign !== undefined) return refuse(null, input, `the nonce was issued by runner ${peek.foreign}, so only it can take the decision`);
      const peeked = peek?.binding ?? null;
      const spent = tokenHash && !peeked ? await deps.approvals.tombstone(tokenHash) : null;
      const runId = peeked?.runId ?? spent?.runId ?? (tokenHash ? undefined : input.runId);
      if (!runId) return refuse(null, input, tokenHash ? 'unknown nonce' : 'no run named');
      const run = await deps.runs.find(runId);
      if (!run) return refuse(null, { ...input, runId }, 'no such run');
      // What the plan is (its tier, what was shown) comes from the runner's own view, not the Redis record.
      const view = await viewOrNull(run.id);
      const facts = { input, run, runnerId: deps.runnerId, agent: deps.agentFor?.(input.by.id) ?? null, spent, peeked, tokenPresented: tokenHash !== null, view };
      const refusal = decisionRefusal(facts);
      if (refusal) return refuse(run, input, refusal.reason, refusal.hint);
      const destructive = isDestructive(facts);
      // A reply that cannot count (expired, older plan, run moved on, shown text no longer the plan's) is
      // refused before it consumes anything, so it changes nothing; checked again after the atomic consume.
      const mismatchOf = async (b: ApprovalBinding) => bindingMismatch(b, run, await deps.runs.latestFor(run), now()) ?? shownTextMismatch(b, view);
      const early = peeked ? await mismatchOf(peeked) : null;
      if (early) return refuse(run, input, early);
      const proof = await passkey.check(run, peeked, input);
      const binding = tokenHash ? await deps.approvals.consumeToken(tokenHash, runId) : await deps.approvals.consumeAnyForRun(runId);
      if (!binding) return refuse(run, input, run.state === 'awaiting_approval' ? 'unknown or already used nonce' : `run is ${run.state}`);
      if (input.token !== undefined && !tokenMatches(input.token, binding.tokenHash)) return refuse(run, input, 'nonce does not match its binding');
      const mismatch = await mismatchOf(binding);
      if (mismatch) return refuse(run, input, mismatch);
      if (destructive && tokenHash && binding.phase === 'approve') return askConfirmation(run, binding, input, proof);

      const decided = await deps.transitions.move(run, {
        from: ['awaiting_approval'],
        to: input.decision === 'approve' ? 'approved' : 'denied',
        patch: { decision: { decision: input.decision, by: input.by, channel: input.channel, breakGlass: isBreakGlass(input), at: now().toISOString(), planSha256: binding.planSha256 } },
        record: {
          type: input.decision === 'approve' ? 'approval.granted' : 'approval.denied',
          actor: input.by,
          ...(view ? { describe: (moved: Run) => runAsViewed(moved, view) } : {}),
          detail: {
            channel: input.channel,
            breakGlass: isBreakGlass(input),
            approver: binding.approver,
            phase: binding.phase,
            textSha256: binding.textSha256,
            ...(run.approval?.firstApproval ? { firstApproval: run.approval.firstApproval } : {}),
            ...(input.via ? { via: input.via } : {}),
            ...(proof ? { passkey: proof } : {}),
          },
        },
      });
      if (!decided) return refuse(run, input, 'run changed while deciding');
      await passkey.settle(proof, run);
      if (input.decision === 'approve') await deps.enqueueApply(decided.id);
      await finish(decided, decided.state);
      return decided;
    },

    /** Audit a reply that is not even a decision (malformed, from an unknown topic): it changes nothing. */
    async reject(input: RefusalInput, reason: string): Promise<void> {
      await record(null, input, reason, false);
    },

    /** The expiry timer fired: an unanswered request counts as denied. */
    async expire(runId: string): Promise<Run | null> {
      const expired = await deps.transitions.move(runId, {
        from: (run) => run.state === 'awaiting_approval' && !!run.approval && !run.approval.held && Date.parse(run.approval.expiresAt) <= now().getTime(),
        to: 'expired',
        record: { type: 'approval.expired', detail: (run) => ({ expiresAt: run.approval?.expiresAt, phase: run.approval?.phase ?? 'approve' }) },
      });
      if (!expired) return null;
      await deps.approvals.voidRun(runId, 'the request expired');
      await finish(expired, 'expired');
      return expired;
    },

    /** A newer head replaced this run (`by`: its run id, or why): void its requests so no tap on them can count. */
    async supersede(runId: string, by: string): Promise<Run | null> {
      const record = { type: 'run.superseded', detail: { supersededBy: by } };
      return endBeforeApply(runId, 'superseded', isRunId(by) ? { supersededBy: by } : { supersededReason: by.slice(0, 500) }, record, 'the run was superseded by a newer head');
    },

    /** An operator stops a run before its apply (`airlock cancel`); a planning job stops at its next step. */
    async cancel(runId: string, by: Actor, reason?: string): Promise<Run | null> {
      const cancelled = { by, at: now().toISOString(), ...(reason ? { reason } : {}) };
      return endBeforeApply(runId, 'cancelled', { cancelled }, { type: 'run.cancelled', actor: by, detail: reason ? { reason } : {} }, 'the run was cancelled by an operator');
    },

    /** Tell the approvers how an approved run ended (applied, failed, needs_attention). */
    async announceOutcome(run: Run): Promise<void> {
      await tell(run, run.state);
    },

    /** Send out requests that waited for a slot (the runner calls this on start and now and then). */
    sendHeld,

    /** A run as its approvers were shown it (for notes sent to phones), or null when there is none. */
    async shownRun(runId: string): Promise<Run | null> {
      const run = await deps.runs.find(runId);
      return run ? shown(run) : null;
    },
  };
}

export type ApprovalService = ReturnType<typeof createApprovalService>;

