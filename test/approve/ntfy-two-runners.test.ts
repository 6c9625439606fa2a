// Found by the chaos campaign (ntfy worlds with several runners, e.g. seeds 6009 and 6010): a tap was lost
// when the runner that planned the run was down as it arrived. Every runner on one Redis hears every reply,
// and the claim that makes a reply handled once is shared; another runner claimed the reply, saw it was not
// its own, skipped it and marked it done, so the planner, back a moment later, found it "already handled".
// Now a runner that is not the planner leaves a reply unclaimed, and the planner takes it when it is back.
// Without the fix (reply-listener.ts `accepts`) the run stays awaiting_approval and this test times out.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { deriveRunId } from '../../src/run/run.ts';
import { makeRemote, pushCommit } from '../git-fixtures.ts';
import { CapturedLog, deletePrefix, removeDir, startTestRunner, tempDir, testPrefix, waitFor, waitForState, writeConfig } from '../support/harness.ts';
import { TF_TWO } from '../e2e/loop-fixture.ts';
import { button, ntfyUnderTest } from './ntfy-fixture.ts';

test('two runners on one Redis: a tap that arrives while the planning runner is down is taken by it when it is back, not lost to the other', async (t) => {
  const ntfy = await ntfyUnderTest(t);
  const root = await tempDir('ntfy-two');
  const remote = await makeRemote();
  const prefix = testPrefix();
  const configFor = (id: string) => writeConfig({ remoteUrl: remote.url, dataDir: path.join(root, id, 'data'), prefix, runnerId: id, extra: { approval: ntfy.approvalSection() } });
  const [loadedA, loadedB] = [await configFor('a'), await configFor('b')];
  let a = await startTestRunner(loadedA);
  const b = await startTestRunner(loadedB, new CapturedLog());
  ntfy.beforeClose(async () => {
    await a.runner.stop().catch(() => undefined);
    await b.runner.stop().catch(() => undefined);
  });
  t.after(async () => {
    await deletePrefix(prefix);
    await remote.cleanup();
    await removeDir(root);
  });

  // Only A watches: it sights the head, and A or B plans it; the planner holds the nonces.
  const sha = await pushCommit(remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  const id = deriveRunId('infra', 'default', sha);
  await a.runner.watcher.pollAll();
  const planned = await waitForState(a.runner, id, ['awaiting_approval'], 120_000);
  const [planner, other] = planned.plan?.runnerId === 'a' ? [a, b] : [b, a];
  const request = await waitFor('the request on alice\'s phone', async () => (await ntfy.notifications('alice')).find((m) => (m.actions?.length ?? 0) > 0 && String(m.message).includes(`run ${id}`)), 60_000);
  await other.runner.replies!.waitConnected();

  // The planner goes down; alice taps Approve; the other runner hears the reply and leaves it alone.
  await planner.runner.stop();
  assert.equal((await ntfy.tap(button(request, 'Approve'))).status, 200);
  await waitFor('the other runner to see the reply', async () => other.log.raw.includes('reply for a run planned by another runner'), 30_000);

  // The planner comes back (the same config, data dir and runner id): the tap counts.
  const restarted = await startTestRunner(planned.plan?.runnerId === 'a' ? loadedA : loadedB);
  if (planner === a) a = restarted;
  ntfy.beforeClose(() => restarted.runner.stop());
  const decided = await waitForState(restarted.runner, id, ['approved', 'applying', 'applied', 'failed'], 60_000);
  assert.equal(decided.decision?.by.id, 'alice');
  const granted = (await readAuditRecords(restarted.runner.cp.paths.auditDir, { run: id })).filter((r) => r.type === 'approval.granted');
  assert.equal(granted.length, 1);
});
