// Fail closed: when a piece of the sandbox is missing from the runner host, the plan fails with a coded
// error that names the piece, and no engine process starts. The runner's PATH is cut down to a directory
// holding only git, so bwrap (or slirp4netns) is simply not there, as on a host without the package.
import assert from 'node:assert/strict';
import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { TF_TWO } from '../e2e/loop-fixture.ts';
import { setupLoop } from '../e2e/loop-fixture.ts';
import { pushCommit } from '../git-fixtures.ts';
import { engineForTests, sandboxedTests } from '../support/engine-under-test.ts';
import { findOnPath } from '../../src/sandbox/host.ts';
import { tempDir, removeDir, waitForState } from '../support/harness.ts';

/** Run the runner with a PATH that has git and `keep`, nothing else. */
async function withPath(t: TestContext, keep: string[]): Promise<void> {
  const dir = await tempDir('path');
  t.after(() => removeDir(dir));
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  for (const tool of ['git', ...keep]) await symlink((await findOnPath(tool))!, path.join(bin, tool));
  const saved = process.env['PATH'];
  process.env['PATH'] = bin;
  t.after(() => {
    process.env['PATH'] = saved;
  });
}

async function planFailsNaming(t: TestContext, keep: string[], piece: string): Promise<void> {
  const loop = await setupLoop(t);
  await withPath(t, keep);
  // The runner's start-up check ran `version` before the PATH was cut; nothing may start after.
  const before = engineForTests().isDouble ? (await loop.invocations()).length : 0;
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha), ['failed', 'awaiting_approval'], 60_000);
  assert.equal(run.state, 'failed');
  assert.equal(run.error?.code, 'airlock:sandbox-unavailable');
  assert.match(run.error?.message ?? '', new RegExp(`\`${piece}\` is not on the runner's PATH`));
  assert.match(run.error?.message ?? '', /no engine process was started/);
  if (engineForTests().isDouble) assert.deepEqual((await loop.invocations()).slice(before), [], 'no engine process ran');
}

test('bwrap missing from PATH: the plan fails with airlock:sandbox-unavailable naming bwrap, and no engine process runs', { skip: !sandboxedTests() && 'AIRLOCK_TEST_SANDBOX=none' }, async (t) => {
  await planFailsNaming(t, ['slirp4netns', 'setpriv'], 'bwrap');
});

test('slirp4netns missing from PATH: the plan fails naming slirp4netns, and no engine process runs', { skip: !sandboxedTests() && 'AIRLOCK_TEST_SANDBOX=none' }, async (t) => {
  await planFailsNaming(t, ['bwrap', 'setpriv'], 'slirp4netns');
});
