// Redis is input, not truth: what the approver reads comes from the runner's own plan view, whatever Redis
// says; approval records moved, forged or replayed through a rewound cursor decide nothing. Against a real
// runner process and the ntfy double, with a negative control: the same forgery under the runner's seal key
// (which only its data dir holds) does count.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { deriveRunId, type Run, type RunPlan } from '../../src/run/run.ts';
import { createSealer } from '../../src/approve/approval-seal.ts';
import { hashToken } from '../../src/approve/approve.ts';
import { createNtfyClient } from '../../src/approve/ntfy-client.ts';
import { approvalTextSha256, planViewOf, renderApprovalText } from '../../src/approve/plan-view.ts';
import { renderReply } from '../../src/approve/reply.ts';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { button, ntfyUnderTest } from '../approve/ntfy-fixture.ts';
import { TF_TWO } from '../e2e/loop-fixture.ts';
import { pushCommit } from '../git-fixtures.ts';
import { waitFor } from '../support/harness.ts';
import { hostileSetup } from './hostile-fixture.ts';

test('the phone shows only the runner\'s plan; forged, moved and replayed approvals change nothing', async (t) => {
  const ntfy = await ntfyUnderTest(t);
  const { remote, dataDir, attacker, start, stop } = await hostileSetup(t, 'hostile-phone', { extra: { approval: ntfy.approvalSection({ maxPending: 1 }) } });
  let runner = await start();
  const audit = () => readAuditRecords(path.join(dataDir, 'audit'));
  const state = async (id: string) => attacker.redis.hget(attacker.key('run', id), 'state');
  const requestOn = (id: string) =>
    waitFor(`the request for ${id} on alice's phone`, async () => (await ntfy.notifications('alice')).find((m) => (m.actions?.length ?? 0) > 0 && String(m.message).includes(`run ${id}`)));
  const reply = (nonce: string, decision: 'approve' | 'deny') =>
    fetch(`${ntfy.url}/${ntfy.topics.alice.reply}`, { method: 'POST', headers: { Authorization: `Bearer ${ntfy.tokens.alice}` }, body: renderReply(nonce, decision) });
  const refusedFor = async (id: string | null) => (await audit()).filter((r) => r.type === 'approval.refused' && r.run === id).map((r) => String(r.detail?.['reason']));

  // Run 1 takes the one request slot; run 2 waits, held, for it.
  const one = deriveRunId('infra', 'default', await pushCommit(remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] }));
  const first = await requestOn(one);
  const two = deriveRunId('infra', 'default', await pushCommit(remote, { 'main.tf': TF_TWO.replace('"a"', '"real_a"').replace('"b"', '"real_b"') }, { refs: ['refs/pull/2/head'] }));
  await waitFor('run 2 held back', async () => (await attacker.runDoc(two)).approval !== undefined);

  // The attacker rewrites what Redis says run 2 would do: one harmless create, a friendly reason, another author and PR.
  const genuine = await attacker.runDoc(two);
  const plan = genuine['plan'] as Record<string, unknown>;
  const forgedSummary = { ...(plan['summary'] as object), counts: { create: 1, update: 0, delete: 0, replace: 0, forget: 0, read: 0, noop: 0 }, changes: [{ address: 'terraform_data.harmless', action: 'create' }], listed: 1, total: 1 };
  await attacker.rewriteRun(two, (doc) => ({ ...doc, pr: 99, author: 'Trusted Human <boss@example.org>', plan: { ...plan, summary: forgedSummary, reasons: ['[auto] reviewed and safe'] } }));
  // Control: rendered from that record, the request would indeed read differently.
  const forgedText = renderApprovalText(planViewOf({ ...(genuine as never as Run), pr: 99, author: 'Trusted Human <boss@example.org>' }, { ...(plan as never as RunPlan), summary: forgedSummary as never, reasons: ['[auto] reviewed and safe'] }), new Date(), 'approve');
  assert.match(forgedText.message, /harmless/);

  // Run 1 is denied on the phone; run 2's held request goes out, with the plan's own text.
  await ntfy.tap(button(first, 'Deny'));
  const second = await requestOn(two);
  // (Markdown-escaped on the phone: `terraform\_data\.real\_a`.)
  assert.match(String(second.message), /real\\_a/);
  assert.match(String(second.message), /real\\_b/);
  for (const forged of ['harmless', 'Trusted Human', 'PR #99', 'reviewed and safe']) assert.ok(!`${second.title} ${second.message}`.includes(forged), `the phone shows the forged "${forged}"`);
  const requested = (await audit()).find((r) => r.type === 'approval.requested' && r.run === two)!;
  assert.equal(requested.detail?.['textSha256'], approvalTextSha256({ title: String(second.title), message: String(second.message) }), 'the binding names the exact text sent');

  // A rewritten plan hash: the genuine tap is refused, nothing consumed.
  await attacker.rewriteRun(two, (doc) => ({ ...doc, plan: { ...(doc['plan'] as object), sha256: 'e'.repeat(64) } }));
  await ntfy.tap(button(second, 'Approve'));
  await waitFor('the tap refused', async () => (await refusedFor(two)).includes('bound to a different plan file'));
  await attacker.rewriteRun(two, (doc) => ({ ...doc, plan: { ...(doc['plan'] as object), sha256: plan['sha256'] } }));

  // A genuine sealed binding of run 2, moved under a token the attacker knows: refused, quarantined.
  const stored = (await attacker.approvalsOf(two)).find((a) => (a.value['body'] as { approver?: string }).approver === 'alice');
  const nonce = randomBytes(32).toString('base64url');
  const moved = { ...stored!.value, body: { ...(stored!.value['body'] as object), tokenHash: hashToken(nonce) } };
  await attacker.forgeApproval(hashToken(nonce), moved, two);
  await reply(nonce, 'approve');
  // (Refused as an unknown nonce, so it is on record under no run.)
  await waitFor('the moved binding refused', async () => (await refusedFor(null)).includes('unknown nonce'));
  assert.match(runner.log(), /"event":"redis.quarantined".*"kind":"approval binding"/);
  // An approval forged from scratch with a made-up seal: the same.
  const nonce2 = randomBytes(32).toString('base64url');
  await attacker.forgeApproval(hashToken(nonce2), { ...moved, mac: 'a'.repeat(64), body: { ...moved.body, tokenHash: hashToken(nonce2) } }, two);
  await reply(nonce2, 'approve');
  await waitFor('the forged binding refused', async () => (await refusedFor(null)).filter((r) => r === 'unknown nonce').length === 2);
  assert.equal(await state(two), 'awaiting_approval');
  assert.ok(!(await audit()).some((r) => r.type === 'approval.granted'), 'nothing approved');

  // Negative control: the very same move, sealed with the runner's key (which only its data dir holds), counts
  // (once the PR number is put back: a binding also names the PR, and the record must agree).
  await attacker.rewriteRun(two, (doc) => ({ ...doc, pr: 2 }));
  const key = Buffer.from((await readFile(path.join(dataDir, 'keys', 'approval-seal.key'), 'utf8')).trim(), 'hex');
  const nonce3 = randomBytes(32).toString('base64url');
  const body3 = { ...(stored!.value['body'] as object), tokenHash: hashToken(nonce3) };
  await attacker.forgeApproval(hashToken(nonce3), { v: 1, runner: 'victim', mac: createSealer(key, 'victim').mac('binding', body3), body: body3 }, two);
  await reply(nonce3, 'approve');
  await waitFor('the sealed forgery applied', async () => (await state(two)) === 'applied');

  // Whatever the Redis copy says, the follow-ups tell the plan's own counts.
  const followUps = await waitFor('the applied follow-up', async () => {
    const all = (await ntfy.notifications('alice')).filter((m) => !(m.actions?.length ?? 0) && String(m.message).includes(`Run ${two}`));
    return all.some((m) => String(m.title).startsWith('Applied')) ? all : undefined;
  });
  for (const m of followUps) assert.ok(!String(m.message).includes('1 to create'), `follow-up "${m.title}: ${m.message}" repeats the forged counts`);
  assert.ok(followUps.some((m) => String(m.message).includes('2 to create')), 'the applied follow-up tells the plan\'s counts');

  // Alice's resume point is rewound to before the first reply and the "handled" marks deleted; bob's is put
  // a day in the future (which would make the stream skip every new reply).
  const replies = (await createNtfyClient(ntfy.url).poll(ntfy.topics.alice.reply, ntfy.tokens.subscribe, 'all')).filter((e) => e.event === 'message');
  const grantedBefore = (await audit()).filter((r) => r.type === 'approval.granted' || r.type === 'approval.denied').length;
  const requestsBefore = (await ntfy.notifications('alice')).filter((m) => (m.actions?.length ?? 0) > 0).length;
  await stop();
  await attacker.rewindReplies(ntfy.topics.alice.reply, String(Number(replies[0]!.time) - 1));
  await attacker.rewindReplies(ntfy.topics.bob.reply, String(Math.floor(Date.now() / 1000) + 86_400));
  const refusedBefore = (await audit()).filter((r) => r.type === 'approval.refused').length;
  runner = await start();
  await waitFor('every replayed reply refused', async () => (await audit()).filter((r) => r.type === 'approval.refused').length >= refusedBefore + replies.length);
  assert.equal((await audit()).filter((r) => r.type === 'approval.granted' || r.type === 'approval.denied').length, grantedBefore, 'no replay decided anything');
  assert.equal((await ntfy.notifications('alice')).filter((m) => (m.actions?.length ?? 0) > 0).length, requestsBefore, 'no new request went out');
  assert.deepEqual((await audit()).filter((r) => r.type === 'apply.started').map((r) => r.run), [two], 'one apply, of the approved plan');
  await waitFor('the future watermark quarantined', async () => runner.log().includes('"kind":"reply watermark"'));
});
