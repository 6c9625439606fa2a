// Issue 15, invariant 5: Redis data loss fails safe. A redis-server of the test's own, without persistence,
// is restarted under a runner: every key is gone. The runner notices (its epoch key is gone), says so (log
// line, audit records, one notice to the approvers, `airlock doctor`), and restores its runs from its
// audit chain: finished runs as they ended, the run that waited for a decision ended failed. Nothing is
// applied without a fresh approval, and no head that was already planned is planned again.
// Negative control: the same restart with the runner's record of the epoch removed (a runner without this
// defence) plans every old head again, which the checks below catch.
import assert from 'node:assert/strict';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { readVerifiedRecords } from '../../src/audit/verify-files.ts';
import type { AuditRecord } from '../../src/audit/audit.ts';
import { runDoctor } from '../../src/cli/doctor.ts';
import { replanRun } from '../../src/apply/replan.ts';
import { pushCommit } from '../git-fixtures.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { waitFor, waitForState } from '../support/harness.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.ts';
import { setupLoop, TF_TWO, type Loop } from '../e2e/loop-fixture.ts';

const skip = !engineForTests().isDouble && 'counts plans and applies through the engine double';
const HUMAN = { kind: 'human' as const, id: 'alice' };

interface Planned {
  loop: Loop;
  redis: PrivateRedis;
  /** PR 1 applied, PR 2 waiting for a decision, PR 3 denied. */
  ids: { applied: string; waiting: string; denied: string };
}

/** A runner on a private Redis without persistence, with three heads planned and two of them decided. */
async function planThree(t: TestContext): Promise<Planned> {
  const redis = await startPrivateRedis();
  const prefix = `airlock-loss-${process.pid}`;
  const loop = await setupLoop(t, { prefix, extra: { redis: { url: redis.url, prefix } } });
  t.after(() => redis.stop()); // after the runner's own clean-up (hooks run in order): it needs Redis to stop
  const shas: string[] = [];
  for (const pr of [1, 2, 3]) shas.push(await pushCommit(loop.remote, { 'main.tf': TF_TWO.replace('"one"', `"one-${pr}"`) }, { refs: [`refs/pull/${pr}/head`] }));
  await loop.runner.watcher.pollAll();
  const [applied, waiting, denied] = shas.map((sha) => loop.runId(sha)) as [string, string, string];
  for (const id of [applied, waiting, denied]) await waitForState(loop.runner, id, ['awaiting_approval'], 120_000);
  await loop.runner.cp.approvals.decide({ decision: 'approve', runId: applied, by: HUMAN, channel: 'terminal' });
  await loop.runner.cp.approvals.decide({ decision: 'deny', runId: denied, by: HUMAN, channel: 'terminal' });
  assert.equal((await waitForState(loop.runner, applied, ['applied', 'failed', 'needs_attention'], 120_000)).state, 'applied');
  return { loop, redis, ids: { applied, waiting, denied } };
}

async function records(loop: Loop): Promise<AuditRecord[]> {
  return (await readVerifiedRecords(loop.runner.cp.paths.auditDir)).records.map((r) => r.record);
}

/** Records of runs being sighted or planned after Redis lost its data: heads planned again. */
function replans(all: AuditRecord[], lostAt: string): AuditRecord[] {
  return all.filter((r) => (r.type === 'run.sighted' || r.type === 'plan.started') && r.time > lostAt);
}

test('a runner started after Redis lost every key restores its runs from the audit chain, plans no old head again, applies nothing unapproved', { skip }, async (t) => {
  const { loop, redis, ids } = await planThree(t);
  const plansBefore = (await loop.invocations('plan')).length;
  await loop.runner.stop();
  await redis.stop();
  await redis.start(); // no persistence: every key is gone
  const lostAt = new Date().toISOString();
  await loop.restart();
  await loop.runner.watcher.pollAll();
  await loop.runner.watcher.pollAll();

  // Restored: finished runs as they ended; the one that waited for a decision ended, saying why and what next.
  const runs = loop.runner.cp.runs;
  assert.equal((await runs.get(ids.applied)).state, 'applied');
  assert.equal((await runs.get(ids.denied)).state, 'denied');
  const voided = await runs.get(ids.waiting);
  assert.equal(voided.state, 'failed');
  assert.equal(voided.error?.code, 'airlock:redis-data-lost');
  assert.match(voided.error?.message ?? '', new RegExp(`airlock replan ${ids.waiting}`));
  assert.equal(voided.restored?.recordedState, 'awaiting_approval');

  // No old head planned again.
  const all = await records(loop);
  assert.deepEqual(replans(all, lostAt).map((r) => `${r.type} ${r.run}`), []);
  assert.equal((await loop.invocations('plan')).length, plansBefore);

  // The old approval request no longer counts: deciding on it is refused, and nothing is applied.
  await assert.rejects(loop.runner.cp.approvals.decide({ decision: 'approve', runId: ids.waiting, by: HUMAN, channel: 'terminal' }), /run is failed|decision refused/);
  assert.equal((await loop.invocations('apply')).length, 1);

  // The operator is told: one error line, the audit records, one notice to the approvers, and doctor.
  const lines = loop.log.lines();
  assert.equal(lines.filter((l) => l['event'] === 'redis.data_lost').length, 1);
  assert.equal(lines.filter((l) => l['event'] === 'channel.notice').length, 1, 'one notice, not one per run');
  const lost = all.filter((r) => r.type === 'redis.data_lost');
  const rebuilt = all.find((r) => r.type === 'redis.rebuilt');
  assert.equal(lost.length, 1);
  assert.equal(rebuilt?.detail?.['voidedCount'], 1);
  assert.deepEqual(rebuilt?.detail?.['restored'], { applied: 1, failed: 1, denied: 1 });
  assert.equal(all.filter((r) => r.type === 'run.restored').length, 3);
  const doctor = (await runDoctor(loop.loaded.file)).find((c) => c.name === 'redis data');
  assert.ok(doctor?.ok && doctor.warn, JSON.stringify(doctor));
  assert.match(doctor.detail, /Redis lost its data at .*1 that were under way ended/);

  // A fresh approval is the way on: replan the head, approve the new plan, and it applies.
  const next = await replanRun({ config: loop.loaded.config, runs, audit: loop.runner.cp.audit, enqueuePlan: (id) => loop.runner.cp.queues.enqueuePlan(id) }, ids.waiting, HUMAN);
  await waitForState(loop.runner, next.id, ['awaiting_approval'], 120_000);
  await loop.runner.cp.approvals.decide({ decision: 'approve', runId: next.id, by: HUMAN, channel: 'terminal' });
  assert.equal((await waitForState(loop.runner, next.id, ['applied', 'failed', 'needs_attention'], 120_000)).state, 'applied');
  assert.equal((await loop.invocations('apply')).length, 2);
});

test('a running runner notices the loss when Redis comes back, restores, and still plans new heads', { skip }, async (t) => {
  const { loop, redis, ids } = await planThree(t);
  const plansBefore = (await loop.invocations('plan')).length;
  await redis.stop();
  await redis.start();
  const lostAt = new Date().toISOString();
  await waitFor('the runner to restore its runs', async () => (await loop.runner.cp.runs.find(ids.waiting))?.state === 'failed', 60_000);
  await loop.runner.watcher.pollAll();
  assert.equal((await loop.runner.cp.runs.get(ids.applied)).state, 'applied');
  assert.deepEqual(replans(await records(loop), lostAt).map((r) => `${r.type} ${r.run}`), []);
  assert.equal((await loop.invocations('plan')).length, plansBefore);
  assert.equal(loop.log.lines().filter((l) => l['event'] === 'channel.notice').length, 1);

  // A head pushed after the loss is new: it is planned as usual.
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO.replace('"one"', '"one-4"') }, { refs: ['refs/pull/4/head'] });
  await loop.runner.watcher.pollAll();
  assert.equal((await waitForState(loop.runner, loop.runId(sha), ['awaiting_approval'], 120_000)).pr, 4);
});

test('negative control: with the runner\'s record of the epoch removed, the same loss plans every old head again', { skip }, async (t) => {
  const { loop, redis } = await planThree(t);
  const plansBefore = (await loop.invocations('plan')).length;
  await loop.runner.stop();
  await unlink(path.join(loop.runner.cp.paths.dataDir, 'redis-epoch.json'));
  await redis.stop();
  await redis.start();
  const lostAt = new Date().toISOString();
  await loop.restart();
  await loop.runner.watcher.pollAll();
  const again = replans(await records(loop), lostAt).filter((r) => r.type === 'run.sighted');
  assert.equal(again.length, 3, 'every old head is sighted as new and planned again: the check above catches it');
  await waitFor('the old heads to be planned again', async () => (await loop.invocations('plan')).length > plansBefore, 120_000);
  assert.equal(loop.log.lines().filter((l) => l['event'] === 'redis.data_lost').length, 0);
});
