// Approve: approval requests, their single-use tokens, and decisions. Pure rules here; the Redis store
// and channels sit beside it. A channel only delivers a request and hands back (token, decision, who).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Run } from '../run/run.ts';
import { approvalTextSha256, renderApprovalText, viewMismatch, type PlanView } from './plan-view.ts';
import type { Tier } from '../policy/policy.ts';

/** What a token is bound to: a decision made with it counts only for exactly this plan of this run. */
export interface ApprovalBinding {
  runId: string;
  repo: string;
  pr: number | null;
  sha: string;
  workspace: string;
  planSha256: string;
  tier: Tier;
  channel: string;
  approver: string | null;
  /** 'approve' for the first tap; 'confirm' for the second one a destructive plan needs. */
  phase: 'approve' | 'confirm';
  expiresAt: string;
  /** sha256 of the token, checked in constant time after the lookup. */
  tokenHash: string;
  /** sha256 of the exact request text sent (plan-view.ts): a decision counts only while the plan renders to it. */
  textSha256: string;
}

export type Decision = 'approve' | 'deny';

/** A fresh single-use token: 256 bits, URL-safe. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Constant-time comparison of a presented token with a stored hash. */
export function tokenMatches(token: string, storedHash: string): boolean {
  const a = Buffer.from(hashToken(token), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Pure: the binding for a plan as the runner's own view has it (never from a Redis copy of the plan). */
export function bindingFor(view: PlanView, input: { channel: string; approver: string | null; phase: 'approve' | 'confirm'; expiresAt: Date; tokenHash: string; textSha256: string }): ApprovalBinding {
  return {
    runId: view.runId,
    repo: view.repo,
    pr: view.pr,
    sha: view.sha,
    workspace: view.workspace,
    planSha256: view.planSha256,
    tier: view.tier,
    channel: input.channel,
    approver: input.approver,
    phase: input.phase,
    expiresAt: input.expiresAt.toISOString(),
    tokenHash: input.tokenHash,
    textSha256: input.textSha256,
  };
}

/**
 * Pure: why a consumed binding does not authorise a decision on `run` now, or null when it does.
 * `latestRunId` is the newest run of the same PR and workspace.
 */
export function bindingMismatch(binding: ApprovalBinding, run: Run, latestRunId: string | null, now: Date): string | null {
  if (Date.parse(binding.expiresAt) <= now.getTime()) return 'expired';
  if (binding.runId !== run.id) return 'bound to another run';
  if (run.state !== 'awaiting_approval') return `run is ${run.state}`;
  if (!run.plan) return 'run has no durable plan';
  if (binding.planSha256 !== run.plan.sha256) return 'bound to a different plan file';
  if (binding.sha !== run.sha || binding.repo !== run.repo || binding.workspace !== run.workspace || binding.pr !== run.pr) {
    return 'bound to a different commit or workspace';
  }
  if (binding.tier !== run.plan.tier) return 'bound to a different risk tier';
  if (latestRunId !== null && latestRunId !== run.id) return 'superseded by a newer head';
  return null;
}

/**
 * Pure: why the runner's own view of the plan no longer backs what the binding says was shown, or null.
 * The text is rendered again from the view and compared with the sha256 of the text that was sent.
 */
export function shownTextMismatch(binding: ApprovalBinding, view: PlanView | null): string | null {
  const problem = viewMismatch(view, binding);
  if (problem !== null || view === null) return problem;
  const again = approvalTextSha256(renderApprovalText(view, new Date(binding.expiresAt), binding.phase));
  return again === binding.textSha256 ? null : 'the request the approver saw differs from what the plan renders to now';
}
