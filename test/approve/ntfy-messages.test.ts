// The messages published to phones: buttons, plain text, and a follow-up for every outcome a human sees.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Run } from '../../src/run/run.ts';
import { buildOutcome, buildRefusal, buildRequest } from '../../src/approve/ntfy-messages.ts';
import { planViewOf, renderApprovalText } from '../../src/approve/plan-view.ts';
import { emptyCounts } from '../../src/plan/summary.ts';

const RUN: Run = {
  id: 'r0123456789abcde',
  repo: 'infra',
  ref: 'refs/pull/7/head',
  pr: 7,
  sha: 'c0ffee1234567890c0ffee1234567890c0ffee12',
  workspace: 'prod',
  state: 'awaiting_approval',
  version: 3,
  createdAt: '2030-01-01T00:00:00Z',
  updatedAt: '2030-01-01T00:00:00Z',
  plan: {
    sha256: 'ab'.repeat(32),
    tier: 'approve',
    reasons: [],
    engineVersion: '1.11.4',
    treeId: 't',
    summary: { formatVersion: '1.2', engineVersion: '1.11.4', counts: { ...emptyCounts(), create: 2 }, changes: [{ address: 'a.b', action: 'create' }, { address: 'a.c', action: 'create' }], listed: 2, total: 2, errored: false },
  },
};
const REPLY = { server: 'https://ntfy.example.net', replyTopic: 'alice-reply', replyToken: 'tk_alicereplyalicereplyalicere' };

describe('buildRequest', () => {
  it('two http buttons posting the nonce to the reply topic with the reply token, markdown off', () => {
    const text = renderApprovalText(planViewOf(RUN, RUN.plan!), new Date('2030-01-01T00:15:00Z'), 'approve');
    const m = buildRequest(text, 'alice-notify', REPLY, 'N'.repeat(43), 'approve');
    assert.deepEqual([m.title, m.message], [text.title, text.message], 'the text is sent exactly as rendered (its sha256 is bound)');
    assert.equal(m.topic, 'alice-notify');
    assert.equal(m.markdown, false);
    assert.equal(m.priority, 4);
    assert.deepEqual(m.actions, [
      { action: 'http', label: 'Approve', url: 'https://ntfy.example.net/alice-reply', method: 'POST', headers: { Authorization: `Bearer ${REPLY.replyToken}` }, body: `{"v":1,"nonce":"${'N'.repeat(43)}","decision":"approve"}`, clear: true },
      { action: 'http', label: 'Deny', url: 'https://ntfy.example.net/alice-reply', method: 'POST', headers: { Authorization: `Bearer ${REPLY.replyToken}` }, body: `{"v":1,"nonce":"${'N'.repeat(43)}","decision":"deny"}`, clear: true },
    ]);
    assert.ok(!String(m.message).includes('N'.repeat(43)), 'the nonce is only in the buttons');
  });

  it('the confirmation is urgent and labelled for what it does', () => {
    const view = planViewOf(RUN, { ...RUN.plan!, tier: 'confirm' });
    const m = buildRequest(renderApprovalText(view, new Date(), 'confirm'), 'alice-notify', REPLY, 'N'.repeat(43), 'confirm');
    assert.equal(m.priority, 5);
    assert.deepEqual(m.actions?.map((a) => a.label), ['Confirm destroy', 'Deny']);
  });
});

describe('buildOutcome', () => {
  const rows: Array<[string, Partial<Run>, RegExp, RegExp]> = [
    ['approved', { decision: { decision: 'approve', by: { kind: 'human', id: 'alice' }, channel: 'ntfy', breakGlass: false, at: '', planSha256: '' } }, /^Approved: infra\/prod PR #7$/, /^Approved by alice via ntfy\. The apply is queued\./],
    ['approved', { decision: { decision: 'approve', by: { kind: 'human', id: 'os:root' }, channel: 'terminal', breakGlass: true, at: '', planSha256: '' } }, /^Approved:/, /^Approved by os:root on the runner host \(break-glass\)/],
    ['denied', { decision: { decision: 'deny', by: { kind: 'human', id: 'bob' }, channel: 'ntfy', breakGlass: false, at: '', planSha256: '' } }, /^Denied:/, /^Denied by bob via ntfy\. Nothing will be applied\./],
    ['expired', {}, /^Expired:/, /counts as a denial/],
    ['superseded', {}, /^Superseded:/, /newer commit replaced this plan/],
    ['applied', {}, /^Applied:/, /^Applied: 0 to destroy, 0 to replace, 2 to create, 0 to update\./],
    ['failed', { error: { code: 'airlock:engine-failed', message: 'boom' } }, /^Apply failed:/, /airlock:engine-failed/],
    ['needs_attention', {}, /^Needs attention:/, /may be partial/],
  ];
  for (const [outcome, patch, title, message] of rows) {
    it(`${outcome}: ${message.source.slice(0, 40)}`, () => {
      const m = buildOutcome({ ...RUN, ...patch }, outcome, 'alice-notify')!;
      assert.match(String(m.title), title);
      assert.match(String(m.message), message);
      assert.match(String(m.message), /Run r0123456789abcde · commit c0ffee1$/);
      assert.equal(m.actions, undefined, 'a follow-up has no buttons');
      assert.equal(m.markdown, false);
    });
  }

  it('says nothing for states nobody needs to hear about', () => {
    assert.equal(buildOutcome(RUN, 'awaiting_approval', 'alice-notify'), null);
    assert.equal(buildOutcome(RUN, 'planning', 'alice-notify'), null);
  });

  it('a refused tap is explained to the one who tapped', () => {
    const m = buildRefusal({ ...RUN, state: 'approved' }, 'replayed: this nonce was already used', 'bob-notify');
    assert.equal(m.topic, 'bob-notify');
    assert.equal(m.title, 'Not counted: infra/prod PR #7');
    assert.match(String(m.message), /^Your tap was refused: replayed: this nonce was already used\. Nothing changed\.\nRun r0123456789abcde · commit c0ffee1 · now approved$/);
  });
});
