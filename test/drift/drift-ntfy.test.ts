// The drift notice on the phone, end to end with ntfy (the double, or a real server with
// AIRLOCK_TEST_NTFY_URL): a drift run's request is published at low priority (2), a PR run's at 4 (the
// control); a check while that request is out is skipped, so its buttons still count; once it is decided,
// the same findings at the next check publish nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pushCommit } from '../git-fixtures.ts';
import { setupNtfyLoop } from '../approve/ntfy-loop-fixture.ts';
import { TF_TWO } from '../e2e/loop-fixture.ts';
import { checkNow, DRIFT, records } from '../e2e/drift-fixture.ts';
import { waitFor, waitForState } from '../support/harness.ts';

test('the drift request is low priority on the phone; it stays valid across a skipped slot; the same drift again is not published', async (t) => {
  const s = await setupNtfyLoop(t, { workspaces: [{ name: 'default', dir: '.', drift: DRIFT }] });
  const sha = await pushCommit(s.loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/heads/main', 'refs/pull/1/head'] });
  await s.loop.runner.watcher.pollAll();
  const prRequest = await s.request(s.loop.runId(sha), 'alice');
  assert.equal(prRequest.priority, 4, 'control: a PR request is high priority');

  const seen = new Set<string>();
  const drift = await checkNow(s.loop, seen);
  const request = await s.request(drift.id, 'alice');
  assert.equal(request.priority, 2, 'a drift notice is low priority');
  assert.deepEqual(request.tags, ['mag']);
  assert.deepEqual(request.actions?.map((a) => a.label), ['Approve', 'Deny']);

  // Another check while the request is out: skipped, and the request still counts.
  assert.equal((await s.loop.cli('drift', 'infra/default', '--now')).code, 0);
  await waitFor('the skipped slot on record', async () => (await records(s.loop)).find((r) => r.type === 'drift.skipped' && r.detail?.['pending'] === drift.id));
  assert.equal((await s.tap(request, 'Deny')).status, 200);
  const denied = await waitForState(s.loop.runner, drift.id, ['denied']);
  assert.deepEqual(denied.decision?.by, { kind: 'human', id: 'alice' });

  // The same findings at the next check: nothing on either phone.
  const quiet = await checkNow(s.loop, seen);
  await waitForState(s.loop.runner, quiet.id, ['planned']);
  for (const who of ['alice', 'bob'] as const) {
    const about = (await s.ntfy.notifications(who)).filter((m) => String(m.message).includes(quiet.id));
    assert.deepEqual(about, [], `${who}'s phone heard nothing of ${quiet.id}`);
  }
});
