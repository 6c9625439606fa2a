// Audit: the append-only, hash-chained record of who proposed, who decided and what changed.
// This file owns the record shape and the pure chain rules; audit-log.ts owns the file.
import { createHash } from 'node:crypto';
import type { Actor, Run } from '../apply/run.ts';

export const GENESIS = '0'.repeat(64);

export interface AuditSubject {
  repo: string;
  pr: number | null;
  ref: string;
  sha: string;
  workspace: string;
}

export interface AuditInput {
  type: string;
  run: string | null;
  actor: Actor;
  subject?: AuditSubject;
  plan?: { sha256: string; counts?: Record<string, number>; tier?: string };
  detail?: Record<string, unknown>;
}

export interface AuditRecord extends AuditInput {
  seq: number;
  time: string;
  prev: string;
  hash: string;
}

/** JSON with sorted keys and no whitespace, so the same record always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** hash = sha256(prev ‖ canonical JSON of the record without `hash`). */
export function hashRecord(record: Omit<AuditRecord, 'hash'>): string {
  return createHash('sha256').update(record.prev).update(canonicalJson(record)).digest('hex');
}

/** Pure: the next record of a chain whose head is (seq, prev). */
export function sealRecord(input: AuditInput, head: { seq: number; hash: string }, now = new Date()): AuditRecord {
  const unsealed = { ...input, seq: head.seq + 1, time: now.toISOString(), prev: head.hash };
  return { ...unsealed, hash: hashRecord(unsealed) };
}

/** The subject and plan fields of a record about `run`. */
export function describeRun(run: Run): Pick<AuditInput, 'run' | 'subject' | 'plan'> {
  return {
    run: run.id,
    subject: { repo: run.repo, pr: run.pr, ref: run.ref, sha: run.sha, workspace: run.workspace },
    ...(run.plan ? { plan: { sha256: run.plan.sha256, counts: { ...run.plan.summary.counts }, tier: run.plan.tier } } : {}),
  };
}

export const RUNNER_ACTOR: Actor = { kind: 'runner', id: 'airlock' };
