// Tap-to-approve end to end: a runner on real Redis and git, ntfy played by the double (or a real server),
// and the phone played exactly: the test performs the button's url, method, headers and body as published.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { newToken } from '../../src/approve/approve.ts';
import { renderReply } from '../../src/approve/reply.ts';
import { scrubber } from '../../src/log/scrub.ts';
import { pushCommit } from '../git-fixtures.ts';
import { TF_TWO } from '../e2e/loop-fixture.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { waitFor, waitForState } from '../support/harness.ts';
import { button } from './ntfy-fixture.ts';
import { setupNtfyLoop } from './ntfy-loop-fixture.ts';

const isDouble = engineForTests().isDouble;

test('a tap on Approve applies exactly once; the same tap again changes nothing', async (t) => {
  const s = await setupNtfyLoop(t);
  const sha = await pushCommit(s.loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await s.loop.runner.watcher.pollAll();
  const id = s.loop.runId(sha);
  const request = await s.request(id, 'alice');
  assert.match(String(request.title), /^Approve\? infra\/default PR #1: 0 destroy, 0 replace, 2 create, 0 update$/);
  assert.equal(request.content_type, undefined, 'published as plain text, not Markdown');
  assert.deepEqual(request.actions?.map((a) => a.label), ['Approve', 'Deny']);
  const approve = button(request, 'Approve');
  assert.equal(approve.url, `${s.ntfy.url}/${s.ntfy.topics.alice.reply}`, 'the button posts to the ntfy server\'s reply topic, not to the runner');
  assert.deepEqual(approve.headers, { Authorization: `Bearer ${s.ntfy.tokens.alice}` });
  assert.match(String(approve.body), /^\{"v":1,"nonce":"[A-Za-z0-9_-]{43}","decision":"approve"\}$/);

  const answer = await s.tap(request, 'Approve');
  assert.equal(answer.status, 200, 'ntfy accepted the reply');
  const applied = await waitForState(s.loop.runner, id, ['applied', 'failed', 'needs_attention']);
  assert.equal(applied.state, 'applied', JSON.stringify(applied.error));
  assert.deepEqual(applied.decision?.by, { kind: 'human', id: 'alice' });
  assert.equal(applied.decision?.channel, 'ntfy');
  assert.equal(applied.decision?.breakGlass, false);
  if (isDouble) assert.equal((await s.loop.invocations('apply')).length, 1, 'exactly one apply');

  // Both phones learn the outcome.
  for (const who of ['alice', 'bob'] as const) {
    await waitFor(`${who} is told approved and applied`, async () => {
      const titles = await s.followUps(id, who);
      return titles.some((x) => x.startsWith('Approved:')) && titles.some((x) => x.startsWith('Applied:'));
    });
  }

  // The same tap again (a second device, a retry): refused, audited, nothing applied.
  assert.equal((await s.tap(request, 'Approve')).status, 200);
  assert.equal((await s.tap(request, 'Deny')).status, 200);
  await s.handled(3);
  const refused = (await s.audit(id)).filter((r) => r.type === 'approval.refused').map((r) => r.detail?.['reason']);
  assert.deepEqual(refused, ['replayed: this nonce was already used', 'replayed: this nonce was already used']);
  await waitFor('alice is told her late tap did not count', async () => (await s.followUps(id, 'alice')).some((x) => x.startsWith('Not counted:')));
  assert.equal((await s.loop.runner.cp.runs.get(id)).state, 'applied');
  if (isDouble) assert.equal((await s.loop.invocations('apply')).length, 1, 'still exactly one apply');
  const granted = (await s.audit(id)).filter((r) => r.type === 'approval.granted');
  assert.equal(granted.length, 1);
  assert.deepEqual(granted[0]!.actor, { kind: 'human', id: 'alice' });
});

test('a tap on Deny applies nothing, and no later tap can change that', async (t) => {
  const s = await setupNtfyLoop(t);
  const sha = await pushCommit(s.loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/2/head'] });
  await s.loop.runner.watcher.pollAll();
  const id = s.loop.runId(sha);
  const request = await s.request(id, 'bob');
  assert.equal((await s.tap(request, 'Deny')).status, 200);
  assert.equal((await waitForState(s.loop.runner, id, ['denied', 'approved', 'applied'])).state, 'denied');
  await s.tap(request, 'Approve');
  await s.tap(await s.request(id, 'alice'), 'Approve');
  await s.handled(3);
  assert.equal((await s.loop.runner.cp.runs.get(id)).state, 'denied');
  if (isDouble) assert.equal((await s.loop.invocations('apply')).length, 0);
  await waitFor('alice is told it was denied', async () => (await s.followUps(id, 'alice')).some((x) => x.startsWith('Denied:')));
});

test('Approve and Deny tapped within milliseconds on two devices: one decision, at most one apply', async (t) => {
  const s = await setupNtfyLoop(t);
  const shas: string[] = [];
  for (let pr = 10; pr < 13; pr++) shas.push(await pushCommit(s.loop.remote, { 'main.tf': TF_TWO.replace('"one"', `"one-${pr}"`) }, { refs: [`refs/pull/${pr}/head`] }));
  await s.loop.runner.watcher.pollAll();
  let replies = 0;
  for (const sha of shas) {
    const id = s.loop.runId(sha);
    // Two devices show alice the same notification; a third tap races from bob's phone.
    const [alice, bob] = [await s.request(id, 'alice'), await s.request(id, 'bob')];
    const answers = await Promise.all([s.tap(alice, 'Approve'), s.tap(alice, 'Deny'), s.tap(bob, 'Deny')]);
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200]);
    replies += 3;
    await s.handled(replies);
    const decisions = (await s.audit(id)).filter((r) => r.type === 'approval.granted' || r.type === 'approval.denied');
    assert.equal(decisions.length, 1, 'exactly one decision');
    assert.equal((await s.audit(id)).filter((r) => r.type === 'approval.refused').length, 2, `the other two taps refused: ${JSON.stringify((await s.audit(id)).map((r) => [r.type, r.detail?.['reason']]))}`);
  }
  for (const sha of shas) await waitForState(s.loop.runner, s.loop.runId(sha), ['applied', 'denied', 'failed']);
  if (isDouble) {
    // The three PRs share one state, so a later apply may fail as stale: what matters is the count per run.
    const applies = await s.loop.invocations('apply');
    for (const sha of shas) {
      const run = await s.loop.runner.cp.runs.get(s.loop.runId(sha));
      const mine = applies.filter((a) => a.argv.at(-1)?.includes(run.id)).length;
      assert.equal(mine, run.decision?.decision === 'approve' ? 1 : 0, `run ${run.id} (${run.state}) applied ${mine} time(s)`);
    }
  }
});

test('a reply carrying the nonce of an older plan of the same PR is refused', async (t) => {
  const s = await setupNtfyLoop(t);
  const older = await pushCommit(s.loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/4/head'] });
  await s.loop.runner.watcher.pollAll();
  const olderRequest = await s.request(s.loop.runId(older), 'alice');
  const newer = await pushCommit(s.loop.remote, { 'main.tf': TF_TWO.replace('"two"', '"two-b"') }, { refs: ['refs/pull/4/head'] });
  await s.loop.runner.watcher.pollAll();
  await s.request(s.loop.runId(newer), 'alice');
  await waitFor('alice is told the older request was superseded', async () => (await s.followUps(s.loop.runId(older), 'alice')).some((x) => x.startsWith('Superseded:')));

  await s.tap(olderRequest, 'Approve');
  await s.handled(1);
  const refused = (await s.audit(s.loop.runId(older))).filter((r) => r.type === 'approval.refused');
  assert.deepEqual(refused.map((r) => r.detail?.['reason']), ['void: the run was superseded by a newer head']);
  assert.equal((await s.loop.runner.cp.runs.get(s.loop.runId(older))).state, 'superseded');
  assert.equal((await s.loop.runner.cp.runs.get(s.loop.runId(newer))).state, 'awaiting_approval', 'the newer run is untouched');
  if (isDouble) assert.equal((await s.loop.invocations('apply')).length, 0);
});

test('the server refuses a reply from a token without write access; the runner refuses a guessed nonce', async (t) => {
  const s = await setupNtfyLoop(t);
  const sha = await pushCommit(s.loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/5/head'] });
  await s.loop.runner.watcher.pollAll();
  const id = s.loop.runId(sha);
  const approve = button(await s.request(id, 'alice'), 'Approve');
  const replyUrl = approve.url!;

  // bob's reply token, the phone's read token, no token at all: ntfy itself says no (403 / 40301).
  for (const headers of [{ Authorization: `Bearer ${s.ntfy.tokens.bob}` }, { Authorization: `Bearer ${s.ntfy.tokens.phone}` }, {} as Record<string, string>]) {
    const answer = await fetch(replyUrl, { method: 'POST', headers, body: approve.body });
    assert.equal(answer.status, 403);
    assert.equal(((await answer.json()) as { code: number }).code, 40301);
  }
  // alice's own token with a guessed nonce: ntfy accepts it (it cannot know), the runner refuses it.
  const forged = await fetch(replyUrl, { method: 'POST', headers: approve.headers, body: renderReply(newToken(), 'approve') });
  assert.equal(forged.status, 200);
  const garbage = await fetch(replyUrl, { method: 'POST', headers: approve.headers, body: 'approve!!' });
  assert.equal(garbage.status, 200);
  await s.handled(2);
  const refused = (await s.audit()).filter((r) => r.type === 'approval.refused').map((r) => r.detail?.['reason']);
  assert.deepEqual(refused, ['unknown nonce', 'malformed reply: the body is not JSON']);
  assert.equal((await s.loop.runner.cp.runs.get(id)).state, 'awaiting_approval');
  if (isDouble) assert.equal((await s.loop.invocations('apply')).length, 0);

  // The real tap still works afterwards.
  await s.tap(await s.request(id, 'alice'), 'Approve');
  assert.equal((await waitForState(s.loop.runner, id, ['applied', 'failed'])).state, 'applied');
});

test('tokens: none leaks into logs, audit or notifications; a reply token shows only in its owner\'s buttons', async (t) => {
  const s = await setupNtfyLoop(t);
  const sha = await pushCommit(s.loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/6/head'] });
  await s.loop.runner.watcher.pollAll();
  const id = s.loop.runId(sha);
  const request = await s.request(id, 'alice');
  const nonce = (JSON.parse(String(button(request, 'Deny').body)) as { nonce: string }).nonce;
  await s.tap(request, 'Deny');
  await waitForState(s.loop.runner, id, ['denied']);
  await waitFor('follow-ups', async () => (await s.followUps(id, 'bob')).length > 0);
  const shown = await s.loop.cli('show', id);
  const listed = await s.loop.cli('runs', '--json');

  const audit = (await Promise.all((await readdir(s.loop.runner.cp.paths.auditDir)).map((f) => readFile(path.join(s.loop.runner.cp.paths.auditDir, f), 'utf8')))).join('\n');
  const phone = { alice: JSON.stringify(await s.ntfy.notifications('alice')), bob: JSON.stringify(await s.ntfy.notifications('bob')) };
  const { publish, subscribe, alice, bob } = s.ntfy.tokens;
  for (const [name, token] of Object.entries({ publish, subscribe, alice, bob })) {
    assert.equal(scrubber.scrubString(`x ${token} y`), 'x [scrubbed] y', `the ${name} token is registered with the scrubber`);
  }
  for (const [where, text] of [['log', s.loop.log.raw], ['audit', audit], ['CLI output', shown.out + shown.err + listed.out]] as const) {
    for (const [name, token] of Object.entries({ publish, subscribe, alice, bob, nonce })) assert.ok(!text.includes(token), `the ${name} token is not in the ${where}`);
  }
  for (const token of [publish, subscribe]) assert.ok(!phone.alice.includes(token) && !phone.bob.includes(token), 'runner tokens never reach a phone');
  assert.ok(phone.alice.includes(alice) && !phone.alice.includes(bob), 'alice\'s notifications carry only her own reply token');
  assert.ok(phone.bob.includes(bob) && !phone.bob.includes(alice));
  assert.ok(s.loop.log.raw.includes('reply counted'), 'the log did see the reply');
});
