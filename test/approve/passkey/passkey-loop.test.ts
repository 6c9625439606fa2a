// Passkey approvals end to end: a runner on real Redis and git, ntfy played by the double, the approver's
// authenticator by a double with real keys, the approval page's POST made exactly as the page makes it.
// Every hostile assertion is refused with its own code and audited, and changes nothing; the good one
// applies; the chain proves it offline, and an edited byte in a stored assertion is caught.
import assert from 'node:assert/strict';
import { cp as copyDir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { approvalChallenge } from '../../../src/approve/passkey/challenge.ts';
import { renderPasskeyReply } from '../../../src/approve/passkey/reply.ts';
import { verifyChains } from '../../../src/audit/verify-files.ts';
import { verifyApprovals } from '../../../src/cli/passkey-commands.ts';
import { AuthenticatorDouble } from '../../doubles/authenticator-double.ts';
import { pushCommit } from '../../git-fixtures.ts';
import { engineForTests } from '../../support/engine-under-test.ts';
import { tempDir, waitForState } from '../../support/harness.ts';
import { setupNtfyLoop, type NtfyLoop } from '../ntfy-loop-fixture.ts';
import { factsOf, registerThroughCli, reviewOf, rewriteChain, type ReviewPayload } from './passkey-fixture.ts';

const ORIGIN = 'https://approve.example.net';
const RP = 'approve.example.net';
const PLAN_CANARY = 'plan-input-canary-7c1e94d2';
const TF = (n: string) => `resource "terraform_data" "${n}" {\n  input = "${PLAN_CANARY}"\n}\n`;
const isDouble = engineForTests().isDouble;

function capture() {
  const lines: string[] = [];
  return { lines, output: { out: (s: string) => void lines.push(s), err: (s: string) => void lines.push(s), isTTY: false } };
}

async function post(s: NtfyLoop, p: ReviewPayload, body: string): Promise<void> {
  // As the page posts it: the token in ntfy's `auth` query parameter, a plain-text body.
  const auth = Buffer.from(`Bearer ${p.token}`).toString('base64url');
  const res = await s.ntfy.tap({ action: 'http', label: 'page', url: `${p.server}/${p.topic}?auth=${auth}`, method: 'POST', body });
  assert.equal(res.status, 200);
}

async function lastRefusalCode(s: NtfyLoop, id: string): Promise<unknown> {
  return (await s.audit(id)).filter((r) => r.type === 'approval.refused').at(-1)?.detail?.['code'];
}

test('passkey approval: hostile assertions refused with their codes, the right one applies, and the chain proves it offline', async (t) => {
  const s = await setupNtfyLoop(t, { approval: { passkey: { origin: ORIGIN }, require: { approve: 'passkey' } } });
  const key = new AuthenticatorDouble();
  await registerThroughCli(s.loop, key, 'alice', ORIGIN);
  const listed = await s.loop.cli('passkey', 'list');
  assert.match(listed.out, new RegExp(`alice  passkey optional  1 registered\\n  ${key.id}  counter 0`));

  const sha = await pushCommit(s.loop.remote, { 'main.tf': TF('a') }, { refs: ['refs/pull/1/head'] });
  await s.loop.runner.watcher.pollAll();
  const id = s.loop.runId(sha);
  const request = await s.request(id, 'alice');
  assert.deepEqual(request.actions?.map((a) => a.label), ['Review', 'Approve', 'Deny']);
  const { url, payload: p } = reviewOf(request);
  assert.ok(url.startsWith(`${ORIGIN}/airlock-approve.html#a=`), url);
  const run = await s.loop.runner.cp.runs.get(id);
  assert.deepEqual([p.run, p.sha, p.plan, p.rp, p.topic, p.token], [id, sha, run.plan!.sha256, RP, s.ntfy.topics.alice.reply, s.ntfy.tokens.alice]);
  assert.deepEqual(p.changes, [['create', 'terraform_data.a']]);
  // The link carries alice's reply token (as her Approve button does) and nothing else secret.
  const decodedLink = `${url} ${JSON.stringify(p)}`;
  for (const [what, secret] of [['publish token', s.ntfy.tokens.publish], ['subscribe token', s.ntfy.tokens.subscribe], ["bob's reply token", s.ntfy.tokens.bob], ["the phone's token", s.ntfy.tokens.phone], ['a planned value', PLAN_CANARY]] as const) {
    assert.ok(!decodedLink.includes(secret), `the Review link carries the ${what}`);
  }

  // A plain tap is not enough here.
  await s.tap(request, 'Approve');
  await s.handled(1);
  assert.equal(await lastRefusalCode(s, id), 'airlock:passkey-required');

  const facts = factsOf(p);
  const stranger = new AuthenticatorDouble();
  const hostile: Array<[string, ReturnType<AuthenticatorDouble['assert']>, string]> = [
    ['another plan hash', key.assert(approvalChallenge({ ...facts, planSha256: '0'.repeat(64) }), RP, ORIGIN), 'airlock:passkey-challenge'],
    ['another run', key.assert(approvalChallenge({ ...facts, runId: `${id}x` }), RP, ORIGIN), 'airlock:passkey-challenge'],
    ['a signed deny sent as approve', key.assert(approvalChallenge({ ...facts, decision: 'deny' }), RP, ORIGIN), 'airlock:passkey-challenge'],
    ['a wrong origin', key.assert(approvalChallenge(facts), RP, ORIGIN, { origin: 'https://approve.example.net.evil.test' }), 'airlock:passkey-origin'],
    ['a wrong RP ID', key.assert(approvalChallenge(facts), RP, ORIGIN, { rpId: 'evil.test' }), 'airlock:passkey-rpid'],
    ['no user verification', key.assert(approvalChallenge(facts), RP, ORIGIN, { userVerified: false }), 'airlock:passkey-user-verification'],
    ['an unregistered credential', stranger.assert(approvalChallenge(facts), RP, ORIGIN), 'airlock:passkey-unregistered'],
  ];
  let handled = 1;
  for (const [name, assertion, code] of hostile) {
    await post(s, p, renderPasskeyReply(p.nonce, 'approve', assertion));
    await s.handled(++handled);
    assert.equal(await lastRefusalCode(s, id), code, name);
  }
  assert.equal((await s.loop.runner.cp.runs.get(id)).state, 'awaiting_approval', 'no refused assertion moved the run or spent the nonce');

  // The right assertion (the control): approved and applied, with the proof in the chain.
  const good = renderPasskeyReply(p.nonce, 'approve', key.assert(approvalChallenge(facts), RP, ORIGIN));
  await post(s, p, good);
  const applied = await waitForState(s.loop.runner, id, ['applied', 'failed', 'needs_attention']);
  assert.equal(applied.state, 'applied', JSON.stringify(applied.error));
  if (isDouble) assert.equal((await s.loop.invocations('apply')).length, 1);
  const granted = (await s.audit(id)).filter((r) => r.type === 'approval.granted');
  assert.equal(granted.length, 1);
  assert.equal((granted[0]!.detail?.['passkey'] as { credentialId: string }).credentialId, key.id);

  // The same assertion again: refused (the nonce is spent), audited, nothing applied again.
  await post(s, p, good);
  await s.handled(handled + 2);
  assert.match(String((await s.audit(id)).filter((r) => r.type === 'approval.refused').at(-1)?.detail?.['reason']), /replayed/);

  // A second run: an assertion whose counter went back (a cloned key) is refused and audited.
  const sha2 = await pushCommit(s.loop.remote, { 'main.tf': TF('b') }, { refs: ['refs/pull/2/head'] });
  await s.loop.runner.watcher.pollAll();
  const id2 = s.loop.runId(sha2);
  const p2 = reviewOf(await s.request(id2, 'alice')).payload;
  await post(s, p2, renderPasskeyReply(p2.nonce, 'approve', key.assert(approvalChallenge(factsOf(p2)), RP, ORIGIN, { counter: 1 })));
  await s.handled(handled + 3);
  assert.equal(await lastRefusalCode(s, id2), 'airlock:passkey-counter-regression');
  assert.ok(s.loop.log.lines().some((l) => l['event'] === 'passkey.counter_regression' && l['level'] === 50), 'the regression is logged as an error event');
  // This plan destroys terraform_data.a: the passkey Approve asks for a confirmation, given with the passkey too.
  await post(s, p2, renderPasskeyReply(p2.nonce, 'approve', key.assert(approvalChallenge(factsOf(p2)), RP, ORIGIN)));
  const confirm = reviewOf(await s.request(id2, 'alice', 'confirm')).payload;
  assert.equal(confirm.phase, 'confirm');
  assert.deepEqual(confirm.changes, [['delete', 'terraform_data.a'], ['create', 'terraform_data.b']], 'destroys first');
  await post(s, confirm, renderPasskeyReply(confirm.nonce, 'approve', key.assert(approvalChallenge(factsOf(confirm)), RP, ORIGIN)));
  assert.equal((await waitForState(s.loop.runner, id2, ['applied', 'failed', 'needs_attention'])).state, 'applied');
  assert.deepEqual((await s.audit(id2)).filter((r) => r.detail?.['passkey']).map((r) => r.type), ['approval.passkey', 'approval.granted']);

  // Neither the runner's log nor the audit chains carry a token or the nonce itself.
  const chains = JSON.stringify(await s.audit());
  for (const secret of [s.ntfy.tokens.alice, s.ntfy.tokens.publish, s.ntfy.tokens.subscribe, p.nonce, p2.nonce]) {
    assert.ok(!s.loop.log.raw.includes(secret) && !chains.includes(secret), 'a token or nonce leaked into the log or the audit');
  }

  // Offline: every passkey approval re-verifies from the chains alone, and each apply rests on one.
  const verified = await s.loop.cli('audit', 'verify', '--approvals');
  assert.equal(verified.code, 0, verified.out + verified.err);
  assert.match(verified.out, /3 of 3 passkey signature\(s\) verify; 2 of 2 apply\(s\) rest on a proven approval/);

  // An attacker who can rewrite the chain edits one byte of a stored assertion and recomputes every hash.
  const copy = await tempDir('passkey-audit');
  await copyDir(s.loop.runner.cp.paths.auditDir, copy, { recursive: true });
  const runnerChain = path.join(copy, (await readdir(copy)).find((f) => f.endsWith('.jsonl') && !f.endsWith('-cli.jsonl'))!);
  await rewriteChain(runnerChain, (r) => r); // control: rewriting alone changes nothing
  const control = capture();
  assert.equal(await verifyApprovals(control.output, copy, {}), 0, control.lines.join('\n'));
  await rewriteChain(runnerChain, (r) => {
    if (r.type !== 'approval.granted' || r.run !== id) return r;
    const proof = r.detail!['passkey'] as { authenticatorData: string };
    const bytes = Buffer.from(proof.authenticatorData, 'base64url');
    bytes[bytes.length - 1]! ^= 0x01; // the counter's last byte: no named check reads it offline, only the signature covers it
    return { ...r, detail: { ...r.detail, passkey: { ...proof, authenticatorData: bytes.toString('base64url') } } };
  });
  assert.ok((await verifyChains(copy)).every((c) => c.result.ok), 'the rewritten chain verifies as a chain');
  const edited = capture();
  assert.equal(await verifyApprovals(edited.output, copy, {}), 1);
  assert.match(edited.lines.join('\n'), new RegExp(`FAIL  .*approval\\.granted run ${id} by alice: airlock:passkey-signature`));
  assert.match(edited.lines.join('\n'), new RegExp(`note  apply of run ${id} .*not proven`));
});
