// Audit: the append-only, hash-chained record of who proposed, who decided and what changed.
// This file owns the record shape and the pure chain rules; audit-log.ts owns the file, verify.ts the
// checking, check.ts the detection rules, attribution.ts and fingerprint.ts the "who" and "what exactly".
import { createHash } from 'node:crypto';
import type { Actor, Run } from '../run/run.ts';
import { canonicalJson } from '../lib/canonical-json.ts';

export { canonicalJson };

export const GENESIS = '0'.repeat(64);

export interface AuditSubject {
  repo: string;
  pr: number | null;
  ref: string;
  sha: string;
  workspace: string;
  /** The agent principal the head commit's author or committer maps to; null when it maps to none. */
  agent?: string | null;
  /** The head commit's author and committer, `Name <email>`: what git says, not proof of who pushed. */
  author?: string;
  committer?: string;
}

export interface AuditPlan {
  sha256: string;
  counts?: Record<string, number>;
  tier?: string;
  /** The run's fingerprint (fingerprint.ts): commit tree, plan bytes, config, policy, engine, providers. */
  fingerprint?: string;
}

export interface AuditInput {
  type: string;
  run: string | null;
  actor: Actor;
  subject?: AuditSubject;
  plan?: AuditPlan;
  detail?: Record<string, unknown>;
}

export interface AuditRecord extends AuditInput {
  seq: number;
  time: string;
  prev: string;
  hash: string;
}

export interface ChainHead {
  seq: number;
  hash: string;
}

/** hash = sha256(prev ‖ canonical JSON of the record without `hash`). */
export function hashRecord(record: Omit<AuditRecord, 'hash'>): string {
  return createHash('sha256').update(record.prev).update(canonicalJson(record)).digest('hex');
}

/** Pure: the next record of a chain whose head is (seq, prev). `input` must already be plain JSON data. */
export function sealRecord(input: AuditInput, head: ChainHead, now = new Date()): AuditRecord {
  // seq and time first: the line reads naturally; the hash is over canonical (sorted) JSON anyway.
  const unsealed = { seq: head.seq + 1, time: now.toISOString(), ...input, prev: head.hash };
  return { ...unsealed, hash: hashRecord(unsealed) };
}

/**
 * Pure: `input` as the plain JSON data it will read back as. A Date, a Map or an Error would otherwise
 * hash one way when written and another way when read back, and verify would call the record edited.
 */
export function toJsonData<T>(input: T): T {
  return JSON.parse(JSON.stringify(input)) as T;
}

export { describeRun } from '../run/describe.ts';

export { RUNNER_ACTOR } from '../run/describe.ts';

/** The record types a detection rule or an alert reads; the exact strings the code writes. */
export const RECORD_TYPES = {
  approvalRequested: 'approval.requested',
  /** The second request a destructive plan needs; it carries its own, later expiry. */
  approvalConfirmRequested: 'approval.confirm-requested',
  approvalGranted: 'approval.granted',
  approvalDenied: 'approval.denied',
  approvalRefused: 'approval.refused',
  applyStarted: 'apply.started',
  applyRefused: 'apply.refused',
  recovered: 'audit.recovered',
  attributed: 'run.attributed',
} as const;

/** The `event` field of the runner's log lines that the alert rules match (deploy/alerts/). */
export const AUDIT_EVENTS = {
  witness: 'audit.witness',
  verified: 'audit.verified',
  verifyFailed: 'audit.verify_failed',
  publishFailed: 'audit.witness_publish_failed',
  applyUnapproved: 'audit.apply_unapproved',
} as const;
