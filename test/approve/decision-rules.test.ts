// The checks a decision passes before it consumes anything, as a table: each row changes one fact of an
// otherwise acceptable decision and names the refusal it must get (null: the decision may go on).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decisionRefusal, isDestructive, type DecisionFacts } from '../../src/approve/decision-rules.ts';
import type { ApprovalBinding } from '../../src/approve/approve.ts';
import type { Run } from '../../src/run/run.ts';

const run = {
  id: 'r0123456789abcde',
  state: 'awaiting_approval',
  plan: { tier: 'approve', runnerId: 'home', sha256: 'p'.repeat(64), reasons: [], summary: { counts: { delete: 2, replace: 0 } } },
  approval: { held: false },
} as unknown as Run;
const binding = { runId: run.id, approver: 'alice', phase: 'approve' } as ApprovalBinding;
const base: DecisionFacts = {
  input: { decision: 'approve', by: { kind: 'human', id: 'alice' }, approver: 'alice' },
  run,
  runnerId: 'home',
  agent: null,
  spent: null,
  peeked: binding,
  tokenPresented: true,
  view: null,
};
const destructiveRun = { ...run, plan: { ...run.plan!, tier: 'confirm' } } as Run;

const rows: Array<[string, Partial<DecisionFacts>, RegExp | null]> = [
  ['an ordinary tap', {}, null],
  ['a runner, not a human', { input: { ...base.input, by: { kind: 'runner', id: 'x' } } }, /must come from a human, not a runner/],
  ['an agent as decider', { input: { ...base.input, by: { kind: 'human', id: 'bot@agents' } }, agent: 'claude' }, /identity of the agent claude/],
  ['another runner planned it', { runnerId: 'other' }, /planned by runner home/],
  ['a replayed nonce', { spent: { reason: 'already used' }, peeked: null }, /replayed/],
  ['a voided nonce', { spent: { reason: 'the request expired' }, peeked: null }, /void: the request expired/],
  ['a reply on another approver’s topic', { input: { ...base.input, approver: 'mallory' } }, /issued to alice, but the reply came on mallory/],
  ['break-glass approve of a destructive plan without --confirm', { run: destructiveRun, tokenPresented: false, peeked: null }, /needs an explicit confirmation/],
  ['break-glass approve of a destructive plan with --confirm', { run: destructiveRun, tokenPresented: false, peeked: null, input: { ...base.input, confirmed: true } }, null],
  ['break-glass on a run no longer waiting', { run: { ...run, state: 'approved' } as Run, tokenPresented: false, peeked: null }, /run is approved/],
  ['break-glass on a held request', { run: { ...run, approval: { held: true } } as Run, tokenPresented: false, peeked: null }, /held back/],
  ['a deny of a destructive plan needs no confirmation', { run: destructiveRun, tokenPresented: false, peeked: null, input: { ...base.input, decision: 'deny' } }, null],
];

for (const [name, change, expected] of rows) {
  test(`decision rules: ${name}`, () => {
    const refusal = decisionRefusal({ ...base, ...change });
    if (expected === null) assert.equal(refusal, null);
    else assert.match(refusal?.reason ?? '(accepted)', expected);
  });
}

test('the tier comes from the runner’s own plan view over the Redis record', () => {
  assert.equal(isDestructive({ input: base.input, run, view: { tier: 'confirm' } as DecisionFacts['view'] }), true);
  assert.equal(isDestructive({ input: base.input, run: destructiveRun, view: { tier: 'approve' } as DecisionFacts['view'] }), false);
});
