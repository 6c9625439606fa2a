// Job directories hold the checkout, engine logs and the plan file, which embeds variable values: they
// are private (0700/0600) while the run waits, and deleted once the run is final, however it ended.
import assert from 'node:assert/strict';
import { access, stat } from 'node:fs/promises';
import { test } from 'node:test';
import { pushCommit } from '../git-fixtures.ts';
import { TF_ONE_CHANGED, TF_TWO } from '../e2e/loop-fixture.ts';
import { waitFor, waitForState } from '../support/harness.ts';
import { setupVaultLoop } from './vault-loop.ts';

const gone = (p: string) => access(p).then(() => false, () => true);

test('the job directory is 0700 and the plan file 0600 while waiting; both are gone once the run is final', async (t) => {
  const x = await setupVaultLoop(t);
  const { loop } = x;
  const mode = async (p: string) => ((await stat(p)).mode & 0o777).toString(8);

  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  await waitForState(loop.runner, id, ['awaiting_approval']);
  const job = loop.runner.cp.paths.job(id);
  assert.equal(await mode(loop.runner.cp.paths.dataDir), '700');
  assert.equal(await mode(loop.runner.cp.paths.jobsDir), '700');
  assert.equal(await mode(job.dir), '700');
  assert.equal(await mode(job.home), '700');
  assert.equal(await mode(job.tree), '700');
  // The plan file embeds variable values: the runner's alone, except that a root runner lets the sandbox
  // group read it (for `show`, through a read-only bind; the 0700 job dir keeps everyone else out).
  const sandboxGroup = process.getuid?.() === 0 && loop.loaded.config.engine.sandbox !== 'none' ? loop.loaded.config.engine.sandbox.users.group : null;
  const planInfo = await stat(job.planFile);
  assert.equal(await mode(job.planFile), sandboxGroup ? '640' : '600', 'the plan file embeds variable values');
  if (sandboxGroup) assert.deepEqual([planInfo.uid, planInfo.gid], [0, sandboxGroup], 'owned by the runner, readable by the sandbox group only');
  assert.equal(await mode(job.planLog), '600');
  assert.ok(await gone(job.planJson), 'the plan JSON (values in clear) is deleted right after summarizing');
  assert.equal((await loop.cli('deny', id)).code, 0);
  assert.equal(await loop.runner.sweepJobDirs(), 1, 'the sweep removes the denied run\'s directory');
  assert.ok(await gone(job.dir));

  // Applied: removed by the apply job itself.
  const sha2 = await pushCommit(loop.remote, { 'main.tf': TF_ONE_CHANGED }, { refs: ['refs/pull/2/head'] });
  await loop.runner.watcher.pollAll();
  const id2 = loop.runId(sha2);
  await waitForState(loop.runner, id2, ['awaiting_approval']);
  assert.equal((await loop.cli('approve', id2, '--yes')).code, 0);
  assert.equal((await waitForState(loop.runner, id2, ['applied', 'failed'])).state, 'applied');
  await waitFor('the applied run\'s job dir to go', () => gone(loop.runner.cp.paths.job(id2).dir), 5000);

  // No changes: removed as soon as the plan job ends.
  const sha3 = await pushCommit(loop.remote, { 'main.tf': TF_ONE_CHANGED }, { refs: ['refs/pull/3/head'] });
  await loop.runner.watcher.pollAll();
  const id3 = loop.runId(sha3);
  assert.equal((await waitForState(loop.runner, id3, ['no_changes', 'awaiting_approval'])).state, 'no_changes');
  await waitFor('the no-change run\'s job dir to go', () => gone(loop.runner.cp.paths.job(id3).dir), 5000);
  assert.deepEqual(await x.s.liveTokens(), []);
});
