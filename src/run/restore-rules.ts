// After Redis lost its keys (restarted without persistence): what each run was, read back from the audit
// records that describe it, as a run record to store again. Pure. The chain is the truth; Redis only held
// a copy. A run is never restored into a state from which anything would happen by itself: what was
// under way when the data went (planning, waiting for a decision, approved, applying) is ended, with the
// reason and what to do next, so nothing is applied without a fresh approval.
import { deriveRunId, isFinal, type Actor, type Run, type RunState } from './run.ts';
import { isRunId } from './run-schema.ts';

/** The fields of an audit record the rules read (audit/audit.ts AuditRecord has them all). */
export interface RecordOfRun {
  type: string;
  run: string | null;
  time: string;
  seq: number;
  actor: Actor;
  subject?: { repo: string; pr: number | null; ref: string; sha: string; workspace: string; agent?: string | null; author?: string; committer?: string; kind?: 'drift'; driftSlot?: string };
  plan?: { sha256: string };
  detail?: Record<string, unknown>;
}

export const REDIS_DATA_LOST = 'airlock:redis-data-lost';

/** Pure: the state a run is in after `record`, or null when the record does not move it. */
export function stateAfterRecord(record: Pick<RecordOfRun, 'type' | 'detail'>): RunState | null {
  switch (record.type) {
    case 'run.sighted':
    case 'run.replanned':
    case 'plan.started':
    case 'plan.retry':
      return 'planning';
    case 'plan.finished':
      return record.detail?.['outcome'] === 'no_changes' ? 'no_changes' : 'planning';
    case 'plan.refused':
      return 'refused';
    case 'plan.failed':
    case 'apply.failed':
    case 'apply.refused':
      return 'failed';
    case 'plan.reported':
      return 'planned';
    case 'approval.requested':
    case 'approval.confirm-requested':
    case 'approval.held':
    case 'approval.undelivered':
      return 'awaiting_approval';
    case 'approval.granted':
      return 'approved';
    case 'approval.denied':
      return 'denied';
    case 'approval.expired':
      return 'expired';
    case 'run.superseded':
      return 'superseded';
    case 'apply.started':
      return 'applying';
    case 'apply.finished':
      return 'applied';
    case 'apply.needs_attention':
      return 'needs_attention';
    default:
      return null;
  }
}

/** Pure: the state a run's records leave it in. The first final state stands, except that an apply's own outcome replaces needs_attention. */
export function stateFromRecords(records: readonly RecordOfRun[]): { state: RunState; last: RecordOfRun } | null {
  let state: RunState | null = null;
  let last: RecordOfRun | null = null;
  for (const record of records) {
    const next = stateAfterRecord(record);
    if (next === null) continue;
    const applyOutcome = record.type === 'apply.finished' || record.type === 'apply.failed';
    if (state !== null && isFinal(state) && !(state === 'needs_attention' && applyOutcome)) continue;
    state = next;
    last = record;
  }
  return state && last ? { state, last } : null;
}

/** What the operator reads on a run that was under way when Redis lost its data. */
export function lostRunNote(runId: string, state: RunState): string {
  const next = `Next: \`airlock replan ${runId}\` to plan this head again, and decide on the new request.`;
  switch (state) {
    case 'planning':
      return `Redis lost its data (restarted without persistence?) while this head was being planned; nothing was applied. ${next}`;
    case 'awaiting_approval':
      return `Redis lost its data while this run waited for a decision; the request was voided (a tap on it no longer counts) and nothing was applied. ${next}`;
    case 'approved':
      return `Redis lost its data after this run was approved and before its apply started; nothing was applied, and that approval no longer counts. ${next}`;
    default:
      return `Redis lost its data while this apply was running: it may be partial, or it may have finished (see \`airlock show ${runId}\` and the audit log). It is never run again automatically; check the workspace's state before replanning.`;
  }
}

export interface RestoredRun {
  run: Run;
  /** The state the records left the run in, before an unfinished one was ended. */
  recordedState: RunState;
  last: RecordOfRun;
  /** When the head was first seen (ms): the run index and the PR's newest-run pointer order by it. */
  seenAt: number;
}

/** Pure: the run records to store again, one per run id that `records` describe (oldest record first per run). */
export function restoreRuns(records: readonly RecordOfRun[], now: Date): RestoredRun[] {
  const byRun = new Map<string, RecordOfRun[]>();
  for (const r of records) {
    if (r.run === null || !isRunId(r.run) || !r.subject) continue;
    byRun.set(r.run, [...(byRun.get(r.run) ?? []), r]);
  }
  const replannedBy = new Map<string, string>();
  for (const r of records) {
    const of = r.type === 'run.replanned' ? r.detail?.['replanOf'] : undefined;
    if (typeof of === 'string' && isRunId(of) && r.run !== null) replannedBy.set(of, r.run);
  }
  const out: RestoredRun[] = [];
  for (const [id, list] of byRun) {
    const sorted = [...list].sort((a, b) => a.time.localeCompare(b.time));
    const restored = restoreOne(id, sorted, replannedBy.get(id), now);
    if (restored) out.push(restored);
  }
  return out;
}

function restoreOne(id: string, records: RecordOfRun[], replannedBy: string | undefined, now: Date): RestoredRun | null {
  const found = stateFromRecords(records);
  if (!found) return null;
  const subject = records[0]!.subject!;
  const attempt = attemptOf(id, subject);
  if (attempt === null) return null; // the records do not derive this id: not a run Airlock made
  const { state: recordedState, last } = found;
  const state: RunState = isFinal(recordedState) ? recordedState : recordedState === 'applying' ? 'needs_attention' : 'failed';
  const run: Run = {
    id,
    repo: subject.repo,
    ref: subject.ref,
    pr: subject.pr,
    sha: subject.sha,
    workspace: subject.workspace,
    state,
    version: 1,
    createdAt: records[0]!.time,
    updatedAt: now.toISOString(),
    ...(subject.agent !== undefined ? { agent: subject.agent } : {}),
    ...(subject.author !== undefined ? { author: subject.author } : {}),
    ...(subject.committer !== undefined ? { committer: subject.committer } : {}),
    ...(subject.kind === 'drift' && subject.driftSlot ? { kind: 'drift' as const, driftSlot: subject.driftSlot } : {}),
    ...(attempt > 1 ? { attempt } : {}),
    ...replanLinks(records, replannedBy),
    ...decisionOf(records),
    ...outcomeFields(id, state, recordedState, last),
    restored: { at: now.toISOString(), lastRecord: { type: last.type, time: last.time, seq: last.seq }, recordedState },
  };
  const sighted = records.find((r) => r.type === 'run.sighted' || r.type === 'run.replanned') ?? records[0]!;
  return { run, recordedState, last, seenAt: Date.parse(sighted.time) };
}

function attemptOf(id: string, s: NonNullable<RecordOfRun['subject']>): number | null {
  const slot = s.kind === 'drift' ? (s.driftSlot ?? '') : undefined;
  for (let attempt = 1; attempt <= 100; attempt++) if (deriveRunId(s.repo, s.workspace, s.sha, attempt, slot) === id) return attempt;
  return null;
}

function replanLinks(records: RecordOfRun[], replannedBy: string | undefined): Partial<Run> {
  const of = records.find((r) => r.type === 'run.replanned')?.detail?.['replanOf'];
  return { ...(typeof of === 'string' && isRunId(of) ? { replanOf: of } : {}), ...(replannedBy ? { replannedBy } : {}) };
}

function decisionOf(records: RecordOfRun[]): Partial<Run> {
  const d = [...records].reverse().find((r) => r.type === 'approval.granted' || r.type === 'approval.denied');
  if (!d?.plan || !/^[0-9a-f]{64}$/.test(d.plan.sha256)) return {};
  const channel = typeof d.detail?.['channel'] === 'string' ? (d.detail['channel'] as string).slice(0, 40) : 'unknown';
  return { decision: { decision: d.type === 'approval.granted' ? 'approve' : 'deny', by: d.actor, channel, breakGlass: d.detail?.['breakGlass'] === true, at: d.time, planSha256: d.plan.sha256 } };
}

function outcomeFields(id: string, state: RunState, recordedState: RunState, last: RecordOfRun): Partial<Run> {
  const detail = last.detail ?? {};
  const str = (k: string) => (typeof detail[k] === 'string' ? (detail[k] as string) : undefined);
  if (!isFinal(recordedState)) {
    const message = lostRunNote(id, recordedState);
    return state === 'needs_attention' ? { attention: { reason: message } } : { error: { code: REDIS_DATA_LOST, message } };
  }
  if (state === 'failed') return { error: { code: (str('code') ?? 'airlock:apply-error').slice(0, 100), message: str('message') ?? str('reason') ?? `ended by ${last.type}` } };
  if (state === 'refused') {
    const reasons = Array.isArray(detail['reasons']) ? (detail['reasons'] as unknown[]).filter((x): x is string => typeof x === 'string') : [];
    return { refusal: reasons, error: { code: (str('code') ?? 'airlock:guard-refused').slice(0, 100), message: str('message') ?? 'refused' } };
  }
  if (state === 'needs_attention') return { attention: { reason: str('reason') ?? 'the apply was interrupted' } };
  const by = str('supersededBy');
  if (state === 'superseded' && by && isRunId(by)) return { supersededBy: by };
  return {};
}
