// `airlock cancel`: an operator stops a run before its apply. A planning run's job stops at its next step
// (the step loop checks between steps), a waiting run's taps no longer count, and an apply under way is
// never interrupted. Every cancel is on the audit chain with the operator's OS user and reason.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { pushCommit } from '../git-fixtures.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { waitFor, waitForState } from '../support/harness.ts';
import { setupLoop, TF_TWO } from './loop-fixture.ts';

const isDouble = engineForTests().isDouble;
const delayed = (commands: string, ms: number) => ({ engineEnv: { AIRLOCK_DOUBLE_DELAY_COMMANDS: commands, AIRLOCK_DOUBLE_DELAY_MS: String(ms) } });

test('cancelling a planning run stops its job before the next step: no plan runs, no request goes out', { skip: !isDouble && 'holds init open through the double' }, async (t) => {
  const loop = await setupLoop(t, delayed('init', 2_000));
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/4/head'] });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  await waitFor('init to start', async () => (await loop.invocations('init')).length > 0);

  const cancelled = await loop.cli('cancel', id, '--reason', 'pushed to the wrong PR');
  assert.equal(cancelled.code, 0, cancelled.err);
  assert.match(cancelled.out, /cancelled run \S+ \(was planning\); its plan job stops before its next step/);
  await waitFor('the plan job to stop', async () => loop.log.lines().some((l) => l['msg'] === 'plan job stopped: the run is no longer planning' && l['runId'] === id), 60_000);

  assert.equal((await loop.invocations('plan')).length, 0, 'the plan step never ran');
  const run = await loop.runner.cp.runs.get(id);
  assert.equal(run.state, 'cancelled');
  assert.equal(run.cancelled?.by.kind, 'human');
  assert.match(run.cancelled?.by.id ?? '', /^os:/);
  assert.equal(run.cancelled?.reason, 'pushed to the wrong PR');
  assert.equal(run.approval, undefined, 'no approval was requested');
  const records = await readAuditRecords(loop.runner.cp.paths.auditDir, { run: id });
  const record = records.find((r) => r.type === 'run.cancelled');
  assert.equal(record?.actor.kind, 'human');
  assert.equal(record?.detail?.['reason'], 'pushed to the wrong PR');
  assert.ok(!records.some((r) => r.type === 'approval.requested' || r.type === 'plan.finished'), records.map((r) => r.type).join(','));

  const shown = await loop.cli('show', id);
  assert.match(shown.out, /cancelled by os:\S+ at \S+: pushed to the wrong PR/);
  // A second cancel says why not, and what can be cancelled.
  const again = await loop.cli('cancel', id);
  assert.equal(again.code, 1);
  assert.match(again.err, /is cancelled; it cannot be cancelled/);
  assert.match(again.err, /planning, awaiting approval or approved/);
});

test('a cancelled waiting run cannot be approved afterwards, and nothing applies', async (t) => {
  const loop = await setupLoop(t);
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/5/head'] });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  await waitForState(loop.runner, id, ['awaiting_approval']);
  const cancelled = await loop.cli('cancel', id);
  assert.equal(cancelled.code, 0, cancelled.err);
  assert.match(cancelled.out, /\(was awaiting_approval\); no tap on its requests can count now/);

  const approve = await loop.cli('approve', id, '--yes');
  assert.equal(approve.code, 1);
  assert.match(approve.err, /cancelled/);
  assert.equal((await loop.runner.cp.runs.get(id)).state, 'cancelled');
  if (isDouble) assert.equal((await loop.invocations('apply')).length, 0);
  const types = (await readAuditRecords(loop.runner.cp.paths.auditDir, { run: id })).map((r) => r.type);
  assert.ok(types.includes('run.cancelled') && types.includes('approval.refused') && !types.includes('apply.started'), types.join(','));
});

test('an apply under way is never cancelled: the command refuses and says to wait', { skip: !isDouble && 'holds the apply open through the double' }, async (t) => {
  const loop = await setupLoop(t, delayed('apply', 2_500));
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/6/head'] });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  await waitForState(loop.runner, id, ['awaiting_approval']);
  assert.equal((await loop.cli('approve', id, '--yes')).code, 0);
  await waitForState(loop.runner, id, ['applying']);
  const refused = await loop.cli('cancel', id);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /is applying; it cannot be cancelled/);
  assert.match(refused.err, /never interrupted/);
  assert.equal((await waitForState(loop.runner, id, ['applied', 'failed', 'needs_attention'])).state, 'applied');
});
