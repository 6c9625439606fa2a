// Issue 15, invariant 6: a full audit disk stops decisions, not safety. The runner's audit directory is a
// small tmpfs this test mounts and fills. While it is full nothing is approved or applied, no new head is
// sighted, the runner says so once, and a decision from the CLI is refused with what to do; a write that
// hits the full disk is refused and not acknowledged. When the space returns the chain is cut back to what
// was acknowledged (`audit.resumed`), the runner says so and resumes: the head pushed meanwhile is planned
// and the request that was open is approved and applied. Every chain verifies.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { readVerifiedRecords } from '../../src/audit/verify-files.ts';
import { RUNNER_ACTOR } from '../../src/run/describe.ts';
import { runDoctor } from '../../src/cli/doctor.ts';
import { pushCommit } from '../git-fixtures.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { removeDir, tempDir, waitFor, waitForState } from '../support/harness.ts';
import { canMount, mountSmallDisk } from '../support/small-disk.ts';
import { setupLoop, TF_TWO } from '../e2e/loop-fixture.ts';

const skip = !canMount() ? 'mounts a small tmpfs as the audit directory (root only)' : !engineForTests().isDouble && 'counts applies through the engine double';

test('a full audit disk: nothing approved or applied, nothing new sighted, the runner says so; it resumes when space returns', { skip }, async (t) => {
  const root = await tempDir('audit-disk');
  await mkdir(path.join(root, 'data'), { mode: 0o700 });
  const disk = await mountSmallDisk(path.join(root, 'data', 'audit'), 4 * 1024 * 1024);
  const loop = await setupLoop(t, { dataDir: path.join(root, 'data') });
  t.after(async () => {
    await disk.unmount(); // after the runner stopped (hooks run in order): it holds its chain open
    await removeDir(root);
  });
  const event = (name: string) => loop.log.lines().filter((l) => l['event'] === name);
  const first = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(first);
  await waitForState(loop.runner, id, ['awaiting_approval'], 120_000);

  await disk.fill();
  await waitFor('the runner to say the chain cannot be written', async () => event('audit.unwritable').length > 0, 30_000);
  assert.match(String(event('audit.unwritable')[0]!['reason']), /KiB free/);
  const doctor = (await runDoctor(loop.loaded.file)).find((c) => c.name === 'audit dir');
  assert.equal(doctor?.ok, false, JSON.stringify(doctor));
  assert.match(doctor.detail, /KiB free.*pauses plans, decisions and applies/);

  // No decision is taken: not from the CLI (a clear error with what to do), not in the runner.
  const cli = await loop.cli('approve', id, '--yes');
  assert.equal(cli.code, 1);
  assert.match(cli.err, /cannot be written now .*KiB free.*nothing was decided, approved or applied/s);
  assert.match(cli.err, /Free space on the audit directory/);
  await assert.rejects(loop.runner.cp.approvals.decide({ decision: 'approve', runId: id, by: { kind: 'human', id: 'alice' }, channel: 'terminal' }), { code: 'airlock:audit-unwritable' });
  assert.equal((await loop.runner.cp.runs.get(id)).state, 'awaiting_approval', 'the request stays open');

  // Nothing new is sighted while paused.
  const second = await pushCommit(loop.remote, { 'main.tf': TF_TWO.replace('"one"', '"one-2"') }, { refs: ['refs/pull/2/head'] });
  await loop.runner.watcher.pollAll();
  assert.equal(await loop.runner.cp.runs.find(loop.runId(second)), null);

  // A write that races the check hits the full disk (it needs new pages): refused, not acknowledged.
  await assert.rejects(loop.runner.cp.audit.append({ type: 'test.probe', run: null, actor: RUNNER_ACTOR, detail: { pad: 'x'.repeat(64 * 1024) } }), { code: 'airlock:audit-write-failed' });

  await disk.free();
  await waitFor('the runner to resume', async () => event('audit.writable').length > 0, 30_000);
  assert.equal(event('audit.unwritable').length, 1, 'said once');

  // Resumed: the head pushed meanwhile is planned, and the open request is approved and applied.
  await loop.runner.watcher.pollAll();
  await waitForState(loop.runner, loop.runId(second), ['awaiting_approval'], 120_000);
  const approved = await loop.cli('approve', id, '--yes');
  assert.equal(approved.code, 0, approved.err);
  assert.equal((await waitForState(loop.runner, id, ['applied', 'failed', 'needs_attention'], 120_000)).state, 'applied');
  assert.equal((await loop.invocations('apply')).length, 1);

  const { records, reports } = await readVerifiedRecords(loop.runner.cp.paths.auditDir);
  assert.deepEqual(reports.filter((r) => !r.result.ok).map((r) => r.chain), [], 'every chain verifies');
  const resumed = records.find((r) => r.record.type === 'audit.resumed')?.record;
  assert.ok(resumed, 'the cut-off is on the record');
  assert.ok((resumed.detail?.['refused'] as Array<{ type: string }>).some((r) => r.type === 'test.probe'));
  const granted = records.filter((r) => r.record.type === 'approval.granted' && r.record.run === id);
  assert.equal(granted.length, 1);
  assert.ok(granted[0]!.record.time > resumed.time, 'approved only after the chain could be written again');
});
