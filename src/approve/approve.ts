// Approve: approval requests, their single-use tokens, and decisions. Pure rules here; the Redis store
// and channels sit beside it. A channel only delivers a request and hands back (token, decision, who).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Run } from '../apply/run.ts';
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

/** Pure: the binding for a run's current plan. */
export function bindingFor(run: Run, input: { channel: string; approver: string | null; phase: 'approve' | 'confirm'; expiresAt: Date; tokenHash: string }): ApprovalBinding {
  if (!run.plan) throw new Error(`run ${run.id} has no plan to bind an approval to`);
  return {
    runId: run.id,
    repo: run.repo,
    pr: run.pr,
    sha: run.sha,
    workspace: run.workspace,
    planSha256: run.plan.sha256,
    tier: run.plan.tier,
    channel: input.channel,
    approver: input.approver,
    phase: input.phase,
    expiresAt: input.expiresAt.toISOString(),
    tokenHash: input.tokenHash,
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
