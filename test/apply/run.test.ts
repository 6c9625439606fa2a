import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bindingFor, bindingMismatch, shownTextMismatch } from '../../src/approve/approve.ts';
import { approvalTextSha256, planViewOf, renderApprovalText } from '../../src/approve/plan-view.ts';
import { emptyCounts } from '../../src/plan/summary.ts';
import { canTransition, deriveRunId, FINAL_STATES, IllegalTransitionError, RUN_STATES, transition, type Run, type RunState } from '../../src/run/run.ts';

// One row per allowed transition; every pair not listed must be refused.
const ALLOWED: Array<[RunState, RunState]> = [
  ['planning', 'no_changes'],
  ['planning', 'planned'],
  ['planning', 'refused'],
  ['planning', 'awaiting_approval'],
  ['planning', 'approved'],
  ['planning', 'denied'],
  ['planning', 'failed'],
  ['planning', 'superseded'],
  ['planning', 'cancelled'],
  ['awaiting_approval', 'approved'],
  ['awaiting_approval', 'denied'],
  ['awaiting_approval', 'expired'],
  ['awaiting_approval', 'superseded'],
  ['awaiting_approval', 'cancelled'],
  ['approved', 'applying'],
  ['approved', 'superseded'],
  ['approved', 'failed'],
  ['approved', 'cancelled'],
  ['applying', 'applied'],
  ['applying', 'failed'],
  ['applying', 'needs_attention'],
];

function run(state: RunState, extra: Partial<Run> = {}): Run {
  return { id: 'r1', repo: 'infra', ref: 'refs/pull/1/head', pr: 1, sha: 'a'.repeat(40), workspace: 'default', state, version: 1, createdAt: '', updatedAt: '', ...extra };
}

test('transition table: exactly the listed moves are allowed', () => {
  for (const from of RUN_STATES) {
    for (const to of RUN_STATES) {
      const expected = ALLOWED.some(([f, t]) => f === from && t === to);
      assert.equal(canTransition(from, to), expected, `${from} → ${to}`);
      if (expected) assert.equal(transition(run(from), to).state, to);
      else assert.throws(() => transition(run(from), to), IllegalTransitionError, `${from} → ${to} must throw`);
    }
  }
});

test('no state leads back to applying except approved, and applying is never re-entered', () => {
  for (const from of RUN_STATES) assert.equal(canTransition(from, 'applying'), from === 'approved', from);
  assert.equal(canTransition('applying', 'approved'), false);
});

test('an apply under way can never be cancelled', () => {
  assert.equal(canTransition('applying', 'cancelled'), false);
});

test('final states have no way out', () => {
  for (const s of FINAL_STATES) for (const to of RUN_STATES) assert.equal(canTransition(s, to), false, `${s} → ${to}`);
  assert.deepEqual([...FINAL_STATES].sort(), ['applied', 'cancelled', 'denied', 'expired', 'failed', 'needs_attention', 'no_changes', 'planned', 'refused', 'superseded']);
});

test('run ids are derived from (repo, workspace, sha) only', () => {
  const sha = 'b'.repeat(40);
  assert.equal(deriveRunId('infra', 'default', sha), deriveRunId('infra', 'default', sha));
  assert.notEqual(deriveRunId('infra', 'default', sha), deriveRunId('infra', 'prod', sha));
  assert.notEqual(deriveRunId('infra', 'default', sha), deriveRunId('infra2', 'default', sha));
  // The separator cannot be forged by names that run together.
  assert.notEqual(deriveRunId('a', 'bc', sha), deriveRunId('ab', 'c', sha));
  assert.match(deriveRunId('infra', 'default', sha), /^r[0-9a-f]{15}$/);
});

test('bindingMismatch: a decision counts only for the exact plan of an awaiting, current, unexpired run', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const plan = { sha256: 'x'.repeat(64), summary: {} as never, tier: 'approve' as const, reasons: [], engineVersion: '1', treeId: 't' };
  const awaiting = run('awaiting_approval', { plan });
  const binding = bindingFor(planViewOf(awaiting, plan), { channel: 'terminal', approver: null, phase: 'approve', expiresAt: new Date('2026-01-01T00:15:00Z'), tokenHash: 'h', textSha256: 't' });
  const rows: Array<[string, Parameters<typeof bindingMismatch>, string | null]> = [
    ['matching', [binding, awaiting, 'r1', now], null],
    ['expired', [{ ...binding, expiresAt: '2025-12-31T23:59:59Z' }, awaiting, 'r1', now], 'expired'],
    ['another run', [{ ...binding, runId: 'r2' }, awaiting, 'r1', now], 'bound to another run'],
    ['not awaiting', [binding, run('approved', { plan }), 'r1', now], 'run is approved'],
    ['no plan', [binding, run('awaiting_approval'), 'r1', now], 'run has no durable plan'],
    ['other plan file', [{ ...binding, planSha256: 'y'.repeat(64) }, awaiting, 'r1', now], 'bound to a different plan file'],
    ['other commit', [{ ...binding, sha: 'c'.repeat(40) }, awaiting, 'r1', now], 'bound to a different commit or workspace'],
    ['other tier', [{ ...binding, tier: 'confirm' }, awaiting, 'r1', now], 'bound to a different risk tier'],
    ['superseded', [binding, awaiting, 'r9', now], 'superseded by a newer head'],
  ];
  for (const [name, args, expected] of rows) assert.equal(bindingMismatch(...args), expected, name);
});

test('shownTextMismatch: a decision counts only while the runner\'s view renders to the text that was sent', () => {
  const summary = { formatVersion: '1.2', engineVersion: '1', counts: { ...emptyCounts(), create: 1 }, changes: [{ address: 'x.y', action: 'create' as const }], listed: 1, total: 1, errored: false };
  const plan = { sha256: 'x'.repeat(64), summary, tier: 'approve' as const, reasons: [], engineVersion: '1', treeId: 't' };
  const view = planViewOf(run('awaiting_approval', { plan }), plan);
  const expiresAt = new Date('2026-01-01T00:15:00Z');
  const textSha256 = approvalTextSha256(renderApprovalText(view, expiresAt, 'approve'));
  const binding = bindingFor(view, { channel: 'ntfy', approver: 'alice', phase: 'approve', expiresAt, tokenHash: 'h', textSha256 });
  const rows: Array<[string, Parameters<typeof shownTextMismatch>, string | null]> = [
    ['as sent', [binding, view], null],
    ['no view', [binding, null], 'the plan view is gone from the runner (its job directory was removed)'],
    ['view of another run', [binding, { ...view, runId: 'r2' }], 'the plan view belongs to another run'],
    ['view of another plan', [binding, { ...view, planSha256: 'y'.repeat(64) }], 'the plan view is of a different plan file'],
    ['another tier', [binding, { ...view, tier: 'confirm' }], 'the plan view has a different risk tier'],
    ['another address', [binding, { ...view, summary: { ...summary, changes: [{ address: 'x.z', action: 'create' }] } }], 'the request the approver saw differs from what the plan renders to now'],
    ['another expiry in the binding', [{ ...binding, expiresAt: '2026-01-01T00:30:00Z' }, view], 'the request the approver saw differs from what the plan renders to now'],
    ['the confirm text bound as approve', [{ ...binding, phase: 'confirm' }, view], 'the request the approver saw differs from what the plan renders to now'],
  ];
  for (const [name, args, expected] of rows) assert.equal(shownTextMismatch(...args), expected, name);
});
