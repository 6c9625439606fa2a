// The policy in a running runner: `auto` applies without a human, recorded as the policy's decision;
// `deny` ends the run without asking anyone; a fresh config (applies off) only reports.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { configYaml } from '../support/harness.ts';
import { pushCommit } from '../git-fixtures.ts';
import { setupLoop, TF_TWO } from '../e2e/loop-fixture.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { waitForState } from '../support/harness.ts';

const isDouble = engineForTests().isDouble;

test('auto tier: applied without a human, decided and audited as the policy', async (t) => {
  const loop = await setupLoop(t, { extra: { policy: { auto: { types: ['terraform_*'] } } } });
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  const run = await waitForState(loop.runner, id, ['applied', 'failed', 'awaiting_approval', 'needs_attention'], 60_000);
  assert.equal(run.state, 'applied', JSON.stringify(run.error));
  assert.equal(run.plan?.tier, 'auto');
  assert.deepEqual(run.decision?.by, { kind: 'runner', id: 'policy' });
  assert.equal(run.decision?.channel, 'policy');
  assert.equal(run.decision?.planSha256, run.plan?.sha256);
  assert.match(run.plan!.reasons[0]!, /^\[auto\] only creates or updates auto-applied types/);

  const records = await readAuditRecords(loop.runner.cp.paths.auditDir, { run: id });
  const types = records.map((r) => r.type);
  assert.ok(!types.includes('approval.requested'), `no human was asked: ${types.join(',')}`);
  const granted = records.find((r) => r.type === 'approval.granted');
  assert.deepEqual(granted?.actor, { kind: 'runner', id: 'policy' });
  assert.deepEqual(granted?.detail?.['rules'], ['auto']);
  assert.ok(types.indexOf('approval.granted') < types.indexOf('apply.started'), types.join(','));
  if (isDouble) assert.equal((await loop.invocations('apply')).length, 1);
});

test('deny tier: the run ends denied with the rule, no approval is requested, nothing applies, no value is published', async (t) => {
  const loop = await setupLoop(t, { extra: { policy: { attributes: [{ resource: 'terraform_data.*', attribute: 'input', max: 5 }] } } });
  const tf = 'resource "terraform_data" "big" {\n  input = 987654321\n}\n\nresource "terraform_data" "small" {\n  input = 2\n}\n';
  const sha = await pushCommit(loop.remote, { 'main.tf': tf }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  const run = await waitForState(loop.runner, id, ['denied', 'awaiting_approval', 'failed'], 60_000);
  assert.equal(run.state, 'denied', JSON.stringify(run.error));
  assert.equal(run.plan?.tier, 'deny');
  assert.deepEqual(run.decision?.by, { kind: 'runner', id: 'policy' });
  assert.equal(run.plan!.reasons[0], '[attribute:terraform_data.*.input] input is over the limit (≤ 5): terraform_data.big');

  const records = await readAuditRecords(loop.runner.cp.paths.auditDir, { run: id });
  assert.ok(!records.some((r) => r.type === 'approval.requested'));
  assert.deepEqual(records.find((r) => r.type === 'approval.denied')?.detail?.['rules'], ['attribute:terraform_data.*.input']);
  const shown = await loop.cli('show', id);
  assert.match(shown.out, /run \S+: denied/);
  assert.match(shown.out, /\[attribute:terraform_data\.\*\.input\] input is over the limit \(≤ 5\): terraform_data\.big/);
  assert.match(shown.out, /decided: deny by policy via policy/);
  // Approving a denied run is refused.
  assert.equal((await loop.cli('approve', id, '--yes')).code, 1);

  // The planned value was read to decide, and published nowhere.
  const auditDir = loop.runner.cp.paths.auditDir;
  for (const f of await readdir(auditDir)) assert.ok(!(await readFile(path.join(auditDir, f), 'utf8')).includes('987654321'), f);
  assert.ok(!JSON.stringify(await loop.runner.cp.runs.get(id)).includes('987654321'));
  assert.ok(!shown.out.includes('987654321'));
  if (isDouble) assert.equal((await loop.invocations('apply')).length, 0);
});

test('a protected address needs two taps', async (t) => {
  const loop = await setupLoop(t, { extra: { policy: { protected: ['terraform_data.a'] } } });
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha), ['awaiting_approval', 'failed'], 60_000);
  assert.equal(run.plan?.tier, 'confirm');
  assert.equal(run.approval?.tier, 'confirm');
  assert.equal(run.plan!.reasons[0], '[protect:terraform_data.a] protected: changing it needs confirmation: terraform_data.a');
});

test('kill switch: a fresh config (no `applies` key) plans and reports, requests nothing, applies nothing', async (t) => {
  // A fresh config as `airlock` ships it: no `applies` section at all, even with an auto policy.
  const loop = await setupLoop(t, { extra: { applies: undefined, policy: { auto: { types: ['terraform_data'] } } } });
  assert.ok(!configYaml({ remoteUrl: 'file:///x', dataDir: '/x', prefix: 'p', extra: { applies: undefined } }).includes('applies'));
  assert.equal(loop.loaded.config.applies.enabled, false);
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  const run = await waitForState(loop.runner, id, ['planned', 'approved', 'applied', 'awaiting_approval', 'failed'], 60_000);
  assert.equal(run.state, 'planned');
  assert.equal(run.decision, undefined);
  assert.match(run.plan!.reasons[0]!, /^\[applies-off\] applies are switched off/);
  const shown = await loop.cli('show', id);
  assert.match(shown.out, /APPLIES ARE OFF in the runner config \(applies\.enabled: false\)/);
  assert.match(shown.out, /\[applies-off\] applies are switched off/);
  const types = (await readAuditRecords(loop.runner.cp.paths.auditDir, { run: id })).map((r) => r.type);
  assert.ok(types.includes('plan.reported'));
  assert.ok(!types.includes('approval.requested') && !types.includes('approval.granted'), types.join(','));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await loop.runner.cp.runs.get(id)).state, 'planned');
  if (isDouble) assert.equal((await loop.invocations('apply')).length, 0);
});
