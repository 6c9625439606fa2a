// Requests go out through a channel; decisions come back and are checked against the binding before the
// run moves. Every refusal is audited with its reason, and changes nothing else.
import type { Logger } from 'pino';
import type { RunStore } from '../apply/run-store.ts';
import type { Actor, Run } from '../apply/run.ts';
import { describeRun, RUNNER_ACTOR } from '../audit/audit.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { needsConfirmation } from '../policy/policy.ts';
import type { ApprovalStore } from './approval-store.ts';
import { bindingFor, bindingMismatch, hashToken, newToken, type Decision } from './approve.ts';
import { ApprovalRefusedError } from './errors.ts';

/** A way to reach a human. It gets a fresh token per approver and delivers it; it never decides. */
export interface ApprovalChannel {
  readonly name: string;
  /** Approvers this channel addresses; one token each. `null` means "whoever is at the runner host". */
  approvers(): Array<string | null>;
  deliver(run: Run, requests: Array<{ approver: string | null; token: string }>, expiresAt: Date): Promise<void>;
  /** Tell the humans what became of a request (approved, denied, expired, superseded, applied). */
  announce?(run: Run, outcome: string): Promise<void>;
}

export interface DecisionInput {
  decision: Decision;
  by: Actor;
  channel: string;
  /** The presented token; absent for break-glass decisions on the runner host. */
  token?: string;
  runId?: string;
  /** The human has given the second, explicit confirmation a destructive plan needs. */
  confirmed?: boolean;
}

export interface ApprovalServiceDeps {
  runs: RunStore;
  approvals: ApprovalStore;
  audit: AuditLog;
  channel: ApprovalChannel;
  ttlMs: number;
  enqueueApply(runId: string): Promise<void>;
  scheduleExpiry(runId: string, at: Date): Promise<void>;
  log: Logger;
  now?: () => Date;
}

export function createApprovalService(deps: ApprovalServiceDeps) {
  const now = deps.now ?? (() => new Date());

  async function refuse(run: Run | null, input: DecisionInput, reason: string, hint?: string): Promise<never> {
    await deps.audit.append({
      type: 'approval.refused',
      ...(run ? describeRun(run) : { run: input.runId ?? null }),
      actor: input.by,
      detail: { reason, decision: input.decision, channel: input.channel, breakGlass: input.token === undefined },
    });
    deps.log.warn({ runId: run?.id ?? input.runId, reason, channel: input.channel }, 'decision refused');
    throw new ApprovalRefusedError(run?.id ?? input.runId ?? null, reason, hint);
  }

  return {
    /** Move a freshly planned run to awaiting_approval and send the request out. */
    async request(run: Run): Promise<Run> {
      const expiresAt = new Date(now().getTime() + deps.ttlMs);
      const moved = await deps.runs.moveIf(run.id, ['planning'], 'awaiting_approval', {
        approval: { requestedAt: now().toISOString(), expiresAt: expiresAt.toISOString(), tier: run.plan!.tier, channel: deps.channel.name },
      });
      if (!moved) return deps.runs.get(run.id);
      const requests = deps.channel.approvers().map((approver) => ({ approver, token: newToken() }));
      for (const r of requests) {
        await deps.approvals.put(bindingFor(moved, { channel: deps.channel.name, approver: r.approver, phase: 'approve', expiresAt, tokenHash: hashToken(r.token) }));
      }
      await deps.scheduleExpiry(moved.id, expiresAt);
      await deps.audit.append({
        type: 'approval.requested',
        ...describeRun(moved),
        actor: RUNNER_ACTOR,
        detail: { channel: deps.channel.name, approvers: requests.map((r) => r.approver ?? 'runner-host'), expiresAt: expiresAt.toISOString() },
      });
      await deps.channel.deliver(moved, requests, expiresAt);
      return moved;
    },

    /** Apply a human decision; throws ApprovalRefusedError (after auditing it) when it may not count. */
    async decide(input: DecisionInput): Promise<Run> {
      const tokenHash = input.token === undefined ? null : hashToken(input.token);
      const peeked = tokenHash ? await deps.approvals.peek(tokenHash) : null;
      const runId = peeked?.runId ?? input.runId;
      if (!runId) return refuse(null, input, 'unknown or already used token');
      const run = await deps.runs.find(runId);
      if (!run) return refuse(null, { ...input, runId }, 'no such run');
      if (input.by.kind !== 'human') return refuse(run, input, `decisions must come from a human, not a ${input.by.kind}`);
      if (input.decision === 'approve' && run.plan && needsConfirmation(run.plan.tier) && !input.confirmed) {
        return refuse(run, input, 'this plan destroys resources and needs an explicit confirmation', `Re-run with --confirm after reading \`airlock show ${run.id}\`.`);
      }
      const binding = tokenHash ? await deps.approvals.consumeToken(tokenHash, runId) : await deps.approvals.consumeAnyForRun(runId);
      if (!binding) return refuse(run, input, run.state === 'awaiting_approval' ? 'unknown or already used token' : `run is ${run.state}`);
      const mismatch = bindingMismatch(binding, run, await deps.runs.latestFor(run), now());
      if (mismatch) return refuse(run, input, mismatch);

      const decided = await deps.runs.moveIf(run.id, ['awaiting_approval'], input.decision === 'approve' ? 'approved' : 'denied', {
        decision: {
          decision: input.decision,
          by: input.by,
          channel: input.channel,
          breakGlass: input.token === undefined,
          at: now().toISOString(),
          planSha256: binding.planSha256,
        },
      });
      if (!decided) return refuse(run, input, 'run changed while deciding');
      await deps.audit.append({
        type: input.decision === 'approve' ? 'approval.granted' : 'approval.denied',
        ...describeRun(decided),
        actor: input.by,
        detail: { channel: input.channel, breakGlass: input.token === undefined, approver: binding.approver },
      });
      if (input.decision === 'approve') await deps.enqueueApply(decided.id);
      await deps.channel.announce?.(decided, decided.state);
      return decided;
    },

    /** The expiry timer fired: an unanswered request counts as denied. */
    async expire(runId: string): Promise<Run | null> {
      const expired = await deps.runs.update(runId, (run) =>
        run.state === 'awaiting_approval' && run.approval && Date.parse(run.approval.expiresAt) <= now().getTime()
          ? { ...run, state: 'expired', updatedAt: now().toISOString() }
          : null,
      );
      if (!expired) return null;
      await deps.approvals.voidRun(runId);
      await deps.audit.append({ type: 'approval.expired', ...describeRun(expired), actor: RUNNER_ACTOR, detail: { expiresAt: expired.approval?.expiresAt } });
      await deps.channel.announce?.(expired, 'expired');
      return expired;
    },

    /** A newer head replaced this run: void its requests so no tap on them can count. */
    async supersede(runId: string, by: string): Promise<Run | null> {
      const run = await deps.runs.moveIf(runId, ['planning', 'awaiting_approval', 'approved'], 'superseded', { supersededBy: by });
      if (!run) return null;
      await deps.approvals.voidRun(runId);
      await deps.audit.append({ type: 'run.superseded', ...describeRun(run), actor: RUNNER_ACTOR, detail: { supersededBy: by } });
      await deps.channel.announce?.(run, 'superseded');
      return run;
    },
  };
}

export type ApprovalService = ReturnType<typeof createApprovalService>;
