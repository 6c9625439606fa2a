// Tap-to-approve when things go wrong: a dropped subscription, a runner restart, an expired request.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pushCommit } from '../git-fixtures.ts';
import { TF_TWO } from '../e2e/loop-fixture.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { waitFor, waitForState } from '../support/harness.ts';
import { setupNtfyLoop } from './ntfy-loop-fixture.ts';

const isDouble = engineForTests().isDouble;


test('a reply sent while the subscription was dropped is acted on once, after resuming from the newest handled reply', async (t) => {
  const s = await setupNtfyLoop(t);
  const double = s.ntfy.double;
  if (!double) return t.skip('needs the double\'s connection switches (the restart test covers a real server)');
  const sha = await pushCommit(s.loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await s.loop.runner.watcher.pollAll();
  const id = s.loop.runId(sha);
  const request = await s.request(id, 'alice');
  // A handled message on each reply topic gives the listener a resume mark on both.
  const noiseTimes: number[] = [];
  for (const who of ['alice', 'bob'] as const) {
    const noise = await fetch(`${s.ntfy.url}/${s.ntfy.topics[who].reply}`, { method: 'POST', headers: { Authorization: `Bearer ${s.ntfy.tokens[who]}` }, body: 'hello' });
    noiseTimes.push(((await noise.json()) as { time: number }).time);
  }
  const noiseTime = Math.min(...noiseTimes);
  await s.handled(2);

  double.blockSubscriptions(true);
  double.dropConnections();
  await waitFor('the runner to notice', async () => !s.loop.runner.replies!.connected());
  assert.equal((await s.tap(request, 'Approve')).status, 200, 'the phone still reaches ntfy');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await s.loop.runner.cp.runs.get(id)).state, 'awaiting_approval', 'nothing heard while disconnected');

  double.blockSubscriptions(false);
  const applied = await waitForState(s.loop.runner, id, ['applied', 'failed']);
  assert.equal(applied.state, 'applied');
  // Both reply topics share one stream; it resumed a margin before the oldest of the topics' newest handled
  // replies, so the reply sent meanwhile came (and the noise again, dropped as handled).
  const resumed = double.requests.filter((r) => r.path === `/${s.ntfy.topics.alice.reply},${s.ntfy.topics.bob.reply}/json`).at(-1);
  const since = Number(resumed?.query['since']);
  assert.ok(since <= noiseTime && since >= noiseTime - 60, `resumed at ${since}, within a minute before the handled reply of ${noiseTime}`);
  await s.handled(3);
  const decisions = (await s.audit(id)).filter((r) => r.type.startsWith('approval.') && r.type !== 'approval.requested');
  assert.deepEqual(decisions.map((r) => r.type), ['approval.granted'], 'acted on once, refused never');
  if (isDouble) assert.equal((await s.loop.invocations('apply')).length, 1);
});

test('a reply sent while the runner was stopped is acted on once after it starts again', async (t) => {
  const s = await setupNtfyLoop(t);
  const sha = await pushCommit(s.loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/2/head'] });
  await s.loop.runner.watcher.pollAll();
  const id = s.loop.runId(sha);
  const request = await s.request(id, 'bob');
  await s.loop.runner.replies!.stop();
  assert.equal((await s.tap(request, 'Approve')).status, 200);
  await s.loop.restart();
  await s.loop.runner.replies!.waitConnected();
  assert.equal((await waitForState(s.loop.runner, id, ['applied', 'failed'])).state, 'applied');
  await s.loop.restart();
  await s.loop.runner.replies!.waitConnected();
  await new Promise((r) => setTimeout(r, 300));
  const decisions = (await s.audit(id)).filter((r) => r.type === 'approval.granted' || r.type === 'approval.refused');
  assert.deepEqual(decisions.map((r) => r.type), ['approval.granted'], 'a second restart does not handle it again');
  if (isDouble) assert.equal((await s.loop.invocations('apply')).length, 1);
});

test('an unanswered request expires as a denial, phones are told, a late tap is refused', async (t) => {
  const s = await setupNtfyLoop(t, { approval: { ttl: '2s' } });
  const sha = await pushCommit(s.loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/4/head'] });
  await s.loop.runner.watcher.pollAll();
  const id = s.loop.runId(sha);
  const request = await s.request(id, 'alice');
  assert.equal((await waitForState(s.loop.runner, id, ['expired'], 20_000)).state, 'expired');
  await waitFor('both phones are told', async () => (await s.followUps(id, 'alice')).some((x) => x.startsWith('Expired:')) && (await s.followUps(id, 'bob')).some((x) => x.startsWith('Expired:')));
  await s.tap(request, 'Approve');
  await s.handled(1);
  assert.deepEqual((await s.audit(id)).filter((r) => r.type === 'approval.refused').map((r) => r.detail?.['reason']), ['void: the request expired']);
  if (isDouble) assert.equal((await s.loop.invocations('apply')).length, 0);
});
