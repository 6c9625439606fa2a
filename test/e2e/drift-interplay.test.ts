// Drift checks beside other runs, in a real runner on real git and Redis with the engine under test: the
// workspace lock (held by an apply: the check skips its slot or waits, and says which) and a newer head of
// main superseding an undecided drift run while PR runs are left alone.
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { pushCommit } from '../git-fixtures.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { waitFor, waitForState } from '../support/harness.ts';
import { checkNow, DRIFT, records, requests } from './drift-fixture.ts';
import { setupLoop, TF_TWO, type Loop } from './loop-fixture.ts';

const NEEDS_DOUBLE = !engineForTests().isDouble && 'holds an apply in progress with a knob of the engine double (AIRLOCK_DOUBLE_HOLD)';

test('lock: a drift check that finds the workspace lock held by an apply skips its slot and says so (any engine)', async (t) => {
  const loop = await setupLoop(t, { workspaces: [{ name: 'default', dir: '.', drift: DRIFT }] });
  await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/heads/main'] });
  const seen = new Set<string>();
  // Held as the apply job holds it (the next test has a real PR apply hold it, with the engine double).
  const owner = `test@host:1 apply ${loop.runId('0'.repeat(40))}`;
  const held = await loop.runner.cp.locks.tryAcquire('infra', 'default', owner);
  assert.ok(held);
  const skipped = await checkNow(loop, seen);
  const ended = await waitForState(loop.runner, skipped.id, ['skipped']);
  assert.deepEqual(ended.driftLock, { whenLocked: 'skip', outcome: 'skipped', holder: owner, waitedMs: 0 });
  const record = (await records(loop, skipped.id)).find((r) => r.type === 'drift.skipped');
  assert.match(String(record?.detail?.['reason']), /workspace lock was held \(drift\.whenLocked: skip\)/);
  assert.ok(loop.log.lines().some((l) => l['runId'] === skipped.id && /^drift check skipped/.test(String(l['msg']))));
  assert.match((await loop.cli('show', skipped.id)).out, new RegExp(`SKIPPED: the workspace lock was held by ${owner.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(drift\\.whenLocked: skip\\)`));
  assert.match((await loop.cli('runs', '--kind', 'drift')).out, new RegExp(`${skipped.id}\\s+skipped`));
  assert.equal(await requests(loop, skipped.id), 0);
  // Control: once the apply lets go, the next check plans.
  await held.release();
  const planned = await checkNow(loop, seen);
  await waitForState(loop.runner, planned.id, ['awaiting_approval']);
});

/** A PR of main's own head, approved, whose apply the double holds until `release()`. */
async function heldApply(loop: Loop): Promise<{ prRun: string; release(): Promise<void> }> {
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/heads/main', 'refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const prRun = loop.runId(sha);
  await waitForState(loop.runner, prRun, ['awaiting_approval']);
  const hold = `${loop.runner.cp.paths.stateFile('infra', 'default')}.hold`;
  await writeFile(hold, 'held by the test\n');
  assert.equal((await loop.cli('approve', prRun, '--yes')).code, 0);
  // `applying` is recorded after the apply took the workspace lock, which it holds until the engine exits.
  await waitForState(loop.runner, prRun, ['applying']);
  return { prRun, release: () => rm(hold, { force: true }) };
}

test('lock: a real PR apply holds the lock; skip (default) skips the slot, naming the PR run', { skip: NEEDS_DOUBLE }, async (t) => {
  const loop = await setupLoop(t, { workspaces: [{ name: 'default', dir: '.', drift: DRIFT }], engineEnv: { AIRLOCK_DOUBLE_HOLD: '1' } });
  const seen = new Set<string>();
  const { prRun, release } = await heldApply(loop);
  t.after(release);
  const skipped = await checkNow(loop, seen);
  const ended = await waitForState(loop.runner, skipped.id, ['skipped']);
  assert.match(ended.driftLock!.holder!, new RegExp(`apply ${prRun}$`));
  assert.equal((await loop.runner.cp.runs.get(prRun)).state, 'applying', 'the apply went on untouched');
  await release();
  await waitForState(loop.runner, prRun, ['applied']);
  const after = await checkNow(loop, seen);
  await waitForState(loop.runner, after.id, ['no_changes']);
});

test('lock: whenLocked wait waits for a real PR apply, then checks the state it left', { skip: NEEDS_DOUBLE }, async (t) => {
  const loop = await setupLoop(t, { workspaces: [{ name: 'default', dir: '.', drift: { ...DRIFT, whenLocked: 'wait', lockWait: '2m' } }], engineEnv: { AIRLOCK_DOUBLE_HOLD: '1' } });
  const seen = new Set<string>();
  const { prRun, release } = await heldApply(loop);
  t.after(release);
  const waiting = await checkNow(loop, seen);
  await waitFor('the drift check to wait', async () => (await records(loop, waiting.id)).some((r) => r.type === 'drift.lock-wait'));
  assert.equal((await loop.runner.cp.runs.get(waiting.id)).state, 'planning');
  await release();
  await waitForState(loop.runner, prRun, ['applied']);
  // Planned after the apply: the state already has what the code says.
  const ended = await waitForState(loop.runner, waiting.id, ['no_changes'], 60_000);
  assert.equal(ended.driftLock?.outcome, 'waited');
  assert.match(ended.driftLock!.holder!, new RegExp(`apply ${prRun}$`));
  assert.match((await loop.cli('show', waiting.id)).out, /waited \d+ s for the workspace lock \(held by .*apply r[0-9a-f]{15}\) \(drift\.whenLocked: wait\)/);
  assert.ok((await records(loop, waiting.id)).some((r) => r.type === 'drift.lock-taken'));
});

test('a newer head of main supersedes an undecided drift run; a PR run of the old head is untouched (any engine)', async (t) => {
  const loop = await setupLoop(t, { workspaces: [{ name: 'default', dir: '.', drift: DRIFT }] });
  const old = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/heads/main', 'refs/pull/2/head'] });
  await loop.runner.watcher.pollAll();
  const prRun = loop.runId(old);
  await waitForState(loop.runner, prRun, ['awaiting_approval']);
  const drift = await checkNow(loop, new Set());
  await waitForState(loop.runner, drift.id, ['awaiting_approval']);
  const newer = await pushCommit(loop.remote, { 'main.tf': `${TF_TWO}\n# a newer main\n` }, { refs: ['refs/heads/main'] });
  await loop.runner.watcher.pollAll();
  const superseded = await waitForState(loop.runner, drift.id, ['superseded']);
  assert.match(superseded.supersededReason!, new RegExp(`^a newer head of refs/heads/main \\(${newer.slice(0, 12)}\\)`));
  assert.match((await loop.cli('show', drift.id)).out, /superseded: a newer head of refs\/heads\/main/);
  assert.equal((await loop.runner.cp.runs.get(prRun)).state, 'awaiting_approval', 'the PR run stays');
  assert.equal((await loop.cli('approve', drift.id, '--yes')).code, 1, 'the superseded drift plan can no longer be approved');
});
