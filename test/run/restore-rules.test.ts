// The pure rules that rebuild runs from audit records after Redis lost its data (restore-rules.ts), one
// row per case: nothing is ever restored into a state from which it would go on by itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { restoreRuns, stateFromRecords, type RecordOfRun } from '../../src/run/restore-rules.ts';
import { deriveRunId, isFinal } from '../../src/run/run.ts';

const SHA = 'a'.repeat(40);
const PLAN = 'b'.repeat(64);
const ID = deriveRunId('infra', 'default', SHA);
const subject = { repo: 'infra', pr: 7, ref: 'refs/pull/7/head', sha: SHA, workspace: 'default' };
const runner = { kind: 'runner' as const, id: 'runner:r1' };
let seq = 0;
const rec = (type: string, detail?: Record<string, unknown>, run = ID): RecordOfRun => ({ type, run, seq: ++seq, time: new Date(1_800_000_000_000 + seq * 1000).toISOString(), actor: type.startsWith('approval.') ? { kind: 'human', id: 'alice' } : runner, subject, plan: { sha256: PLAN }, ...(detail ? { detail } : {}) });
const now = new Date('2030-01-01T00:00:00Z');

const ROWS: Array<[string, string[], string, string | null]> = [
  // name, record types in order, restored state, error code
  ['sighted only', ['run.sighted'], 'failed', 'airlock:redis-data-lost'],
  ['mid-plan', ['run.sighted', 'plan.started'], 'failed', 'airlock:redis-data-lost'],
  ['waiting for a decision', ['run.sighted', 'plan.started', 'plan.finished', 'approval.requested'], 'failed', 'airlock:redis-data-lost'],
  ['approved, apply not started', ['run.sighted', 'approval.requested', 'approval.granted'], 'failed', 'airlock:redis-data-lost'],
  ['applying', ['run.sighted', 'approval.granted', 'apply.started'], 'needs_attention', null],
  ['applied', ['run.sighted', 'approval.granted', 'apply.started', 'apply.finished'], 'applied', null],
  ['denied', ['run.sighted', 'approval.requested', 'approval.denied'], 'denied', null],
  ['expired', ['run.sighted', 'approval.requested', 'approval.expired'], 'expired', null],
  ['superseded, then a late refusal record', ['run.sighted', 'run.superseded', 'apply.refused'], 'superseded', null],
  ['needs attention, then the apply reports finished', ['run.sighted', 'apply.started', 'apply.needs_attention', 'apply.finished'], 'applied', null],
  ['plan failed', ['run.sighted', 'plan.started', 'plan.failed'], 'failed', 'airlock:plan-error'],
  ['no changes', ['run.sighted', 'plan.finished:no_changes'], 'no_changes', null],
];

for (const [name, types, state, code] of ROWS) {
  test(`restore: ${name} → ${state}`, () => {
    const records = types.map((t) => {
      const [type, outcome] = t.split(':') as [string, string | undefined];
      return rec(type, outcome ? { outcome } : type === 'plan.failed' ? { code: 'airlock:plan-error', message: 'boom' } : undefined);
    });
    const [restored] = restoreRuns(records, now);
    assert.ok(restored);
    assert.equal(restored.run.state, state);
    assert.ok(isFinal(restored.run.state), 'never restored into a state that goes on by itself');
    assert.equal(restored.run.error?.code ?? null, code);
    assert.equal(restored.run.version, 1);
    assert.equal(restored.run.restored?.recordedState, stateFromRecords(records)?.state);
  });
}

test('restore: a replanned head keeps both attempts and their links; the approval is restored as a decision', () => {
  const next = deriveRunId('infra', 'default', SHA, 2);
  const records = [rec('run.sighted'), rec('plan.failed', { code: 'airlock:plan-error', message: 'x' }), rec('run.replanned', { replanOf: ID, attempt: 2 }, next), rec('approval.granted', { channel: 'ntfy', breakGlass: false }, next), rec('apply.started', {}, next), rec('apply.finished', {}, next)];
  const byId = new Map(restoreRuns(records, now).map((r) => [r.run.id, r.run]));
  assert.equal(byId.get(ID)?.replannedBy, next);
  assert.equal(byId.get(next)?.attempt, 2);
  assert.equal(byId.get(next)?.replanOf, ID);
  assert.equal(byId.get(next)?.state, 'applied');
  assert.deepEqual(byId.get(next)?.decision, { decision: 'approve', by: { kind: 'human', id: 'alice' }, channel: 'ntfy', breakGlass: false, at: records[3]!.time, planSha256: PLAN });
});

test('restore: records whose subject does not derive their run id are left out (not a run Airlock made)', () => {
  assert.deepEqual(restoreRuns([rec('run.sighted', undefined, 'r0123456789abcde')], now), []);
  assert.deepEqual(restoreRuns([{ ...rec('run.sighted'), run: null }], now), []);
});
