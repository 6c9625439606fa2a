// Detection over the record: applies without a matching approval, approvals given after their request
// expired, decisions taken by agents, and break-glass decisions. Pure.
import type { Actor } from '../run/run.ts';
import { RECORD_TYPES, type AuditRecord } from './audit.ts';

export type FindingKind = 'apply-without-approval' | 'approval-after-expiry' | 'agent-decision' | 'break-glass';

export interface Finding {
  kind: FindingKind;
  chain: string;
  seq: number;
  run: string | null;
  time: string;
  message: string;
}

/** A record and the chain file it came from. */
export interface ChainRecord {
  chain: string;
  record: AuditRecord;
}

export interface CheckOptions {
  /** The agent an actor id belongs to (audit.agents), or null. */
  agentFor?: (actorId: string) => string | null;
  /**
   * `approval.channel` of the runner config. Break-glass means bypassing it: a decision through it is the
   * ordinary path, even if an older runner recorded it as break-glass (the terminal channel).
   */
  configuredChannel?: string;
}

/** What an approval must match: the exact run, commit and plan bytes, and the request's expiry. */
export interface ApprovalTarget {
  run: string;
  sha: string;
  planSha256: string;
  tier?: string;
  expiresAt?: string;
  /** The approval must be on record before this time (the apply's start), when given. */
  before?: string;
}

// A record is sealed a little after the decision was checked against the expiry (the append and its
// fsync take time); an approval sealed within this much of the expiry was accepted in time.
export const EXPIRY_GRACE_MS = 5_000;

/** Pure: whether a record time is past an expiry, beyond the grace an append takes. */
export function isAfterExpiry(time: string, expiresAt: string): boolean {
  return Date.parse(time) > Date.parse(expiresAt) + EXPIRY_GRACE_MS;
}

/** Pure: why `record` is not an approval of `target`, or null when it is one. */
export function approvalMismatch(record: AuditRecord, target: ApprovalTarget, options: CheckOptions = {}): string | null {
  if (record.type !== RECORD_TYPES.approvalGranted) return `is ${record.type}, not ${RECORD_TYPES.approvalGranted}`;
  if (record.run !== target.run) return 'is for another run';
  if (record.plan?.sha256 !== target.planSha256) return 'approves a different plan file';
  if (record.subject && record.subject.sha !== target.sha) return 'approves a different commit';
  const actorProblem = deciderProblem(record.actor, record.plan?.tier ?? target.tier, options);
  if (actorProblem) return actorProblem;
  if (target.expiresAt !== undefined && isAfterExpiry(record.time, target.expiresAt)) return `was given at ${record.time}, after the request expired at ${target.expiresAt}`;
  if (target.before !== undefined && record.time > target.before) return 'was given after the apply started';
  return null;
}

/** Pure: why this actor may not approve, or null. Only humans who are not agents, or the policy for tier auto. */
export function deciderProblem(actor: Actor, tier: string | undefined, options: CheckOptions = {}): string | null {
  if (actor.kind === 'runner') return actor.id === 'policy' && tier === 'auto' ? null : `was given by the runner (${actor.id}) for a plan of tier ${tier ?? 'unknown'}`;
  if (actor.kind !== 'human') return `was given by a ${actor.kind} (${actor.id})`;
  const agent = options.agentFor?.(actor.id) ?? null;
  return agent === null ? null : `was given by ${actor.id}, an identity of agent ${agent}`;
}

/** Pure: every finding over the records of one or more chains (in any order). */
export function checkChain(records: ChainRecord[], options: CheckOptions = {}): Finding[] {
  const byRun = new Map<string, ChainRecord[]>();
  for (const cr of records) {
    if (cr.record.run === null) continue;
    const list = byRun.get(cr.record.run) ?? [];
    list.push(cr);
    byRun.set(cr.record.run, list);
  }
  const findings: Finding[] = [];
  const found = (kind: FindingKind, cr: ChainRecord, message: string) =>
    findings.push({ kind, chain: cr.chain, seq: cr.record.seq, run: cr.record.run, time: cr.record.time, message });

  for (const cr of records) {
    const r = cr.record;
    const ofRun = r.run === null ? [] : byRun.get(r.run)!;
    if (r.type === RECORD_TYPES.applyStarted) {
      const approved = r.plan && ofRun.some((a) => approvalMismatch(a.record, { run: r.run!, sha: r.subject?.sha ?? '', planSha256: r.plan!.sha256, tier: r.plan!.tier, before: r.time }, options) === null);
      if (!approved) found('apply-without-approval', cr, `apply of run ${r.run} (plan ${r.plan?.sha256 ?? 'unknown'}) started with no matching approval on record`);
    }
    if (r.type === RECORD_TYPES.approvalGranted) {
      const expiresAt = expiryFor(r, ofRun);
      if (expiresAt !== null && isAfterExpiry(r.time, expiresAt)) found('approval-after-expiry', cr, `run ${r.run} was approved at ${r.time}, after its request expired at ${expiresAt}`);
    }
    if (r.type === RECORD_TYPES.approvalGranted || r.type === RECORD_TYPES.approvalDenied) {
      const agent = r.actor.kind === 'agent' ? r.actor.id : (options.agentFor?.(r.actor.id) ?? null);
      if (agent !== null) found('agent-decision', cr, `run ${r.run}: ${r.type} by ${r.actor.id}, an identity of agent ${agent}`);
      if (isBreakGlass(r, options)) found('break-glass', cr, `run ${r.run}: ${r.type} by ${r.actor.id} on the runner host (break-glass), bypassing the ${options.configuredChannel ?? 'configured'} channel`);
    }
  }
  return findings.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.seq - b.seq));
}

/** Pure: whether a decision record bypassed the configured approval channel. */
export function isBreakGlass(record: AuditRecord, options: Pick<CheckOptions, 'configuredChannel'> = {}): boolean {
  if (record.detail?.['breakGlass'] !== true) return false;
  return options.configuredChannel === undefined || record.detail['channel'] !== options.configuredChannel;
}

/** The expiry of the request an approval answered: the latest request (or confirm request) of the run before it. */
function expiryFor(approval: AuditRecord, ofRun: ChainRecord[]): string | null {
  let expiresAt: string | null = null;
  let requestedAt = '';
  for (const { record } of ofRun) {
    const isRequest = record.type === RECORD_TYPES.approvalRequested || record.type === RECORD_TYPES.approvalConfirmRequested;
    if (!isRequest || record.time > approval.time || record.time < requestedAt) continue;
    const e = record.detail?.['expiresAt'];
    if (typeof e === 'string') {
      expiresAt = e;
      requestedAt = record.time;
    }
  }
  return expiresAt;
}
