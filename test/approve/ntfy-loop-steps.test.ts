// Tap-to-approve when a decision takes more than one tap or more than one channel: a destroying plan,
// break-glass on the runner host beside ntfy, and the cap on pending requests.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pushCommit } from '../git-fixtures.ts';
import { TF_ONE_CHANGED, TF_TWO } from '../e2e/loop-fixture.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { waitFor, waitForState } from '../support/harness.ts';
import { setupNtfyLoop } from './ntfy-loop-fixture.ts';

const isDouble = engineForTests().isDouble;

test('a destroying plan needs both taps: the first alone applies nothing', async (t) => {
  const s = await setupNtfyLoop(t);
  const first = await pushCommit(s.loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/3/head'] });
  await s.loop.runner.watcher.pollAll();
  await s.tap(await s.request(s.loop.runId(first), 'alice'), 'Approve');
  await waitForState(s.loop.runner, s.loop.runId(first), ['applied']);

  const second = await pushCommit(s.loop.remote, { 'main.tf': TF_ONE_CHANGED }, { refs: ['refs/pull/3/head'] });
  await s.loop.runner.watcher.pollAll();
  const id = s.loop.runId(second);
  const request = await s.request(id, 'alice');
  assert.match(String(request.message), /This destroys 1 resource: approving asks for a second tap\./);
  await s.tap(request, 'Approve');
  const confirm = await s.request(id, 'alice', 'confirm');
  assert.equal(confirm.title, 'Confirm: this destroys 1 resource · infra/default PR #3');
  assert.match(String(confirm.message), /^Confirm: this destroys 1 resource:\n- terraform_data\.b\n/);
  assert.deepEqual(confirm.actions?.map((a) => a.label), ['Confirm destroy', 'Deny']);
  const waiting = await s.loop.runner.cp.runs.get(id);
  assert.equal(waiting.state, 'awaiting_approval');
  assert.equal(waiting.approval?.phase, 'confirm');
  assert.equal((await s.ntfy.notifications('bob')).filter((m) => String(m.title).startsWith('Confirm')).length, 0, 'only the approver who tapped is asked to confirm');
  await new Promise((r) => setTimeout(r, 300));
  if (isDouble) assert.equal((await s.loop.invocations('apply')).length, 1, 'the first tap alone applied nothing');

  await s.tap(confirm, 'Confirm destroy');
  assert.equal((await waitForState(s.loop.runner, id, ['applied', 'failed'])).state, 'applied');
  if (isDouble) assert.equal((await s.loop.invocations('apply')).length, 2);
  const types = (await s.audit(id)).map((r) => r.type);
  assert.ok(types.indexOf('approval.confirm-requested') < types.indexOf('approval.granted'));
});

test('break-glass on the runner host still works beside ntfy, is audited as such, and phones are told', async (t) => {
  const s = await setupNtfyLoop(t);
  const sha = await pushCommit(s.loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/5/head'] });
  await s.loop.runner.watcher.pollAll();
  const id = s.loop.runId(sha);
  const request = await s.request(id, 'alice');
  const cli = await s.loop.cli('approve', id, '--yes');
  assert.equal(cli.code, 0, cli.err);
  const applied = await waitForState(s.loop.runner, id, ['applied', 'failed']);
  assert.equal(applied.decision?.breakGlass, true);
  assert.match(applied.decision?.by.id ?? '', /^os:/);
  const granted = (await s.audit(id)).find((r) => r.type === 'approval.granted');
  assert.equal(granted?.detail?.['breakGlass'], true);
  await waitFor('alice learns it was approved on the runner host', async () => (await s.ntfy.notifications('alice')).some((m) => String(m.title).startsWith('Approved:') && /break-glass/.test(String(m.message))));
  await s.tap(request, 'Deny');
  await s.handled(1);
  assert.deepEqual((await s.audit(id)).filter((r) => r.type === 'approval.refused').map((r) => r.detail?.['reason']), ['void: the run was decided on the runner host']);
});

test('the cap on pending requests holds a flood back and sends the rest as answers come in', async (t) => {
  const s = await setupNtfyLoop(t, { approval: { maxPending: 1 } });
  const a = await pushCommit(s.loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/6/head'] });
  const b = await pushCommit(s.loop.remote, { 'main.tf': TF_TWO.replace('"one"', '"uno"') }, { refs: ['refs/pull/7/head'] });
  await s.loop.runner.watcher.pollAll();
  const [idA, idB] = [s.loop.runId(a), s.loop.runId(b)];
  await waitFor('both planned', async () => {
    const runs = await Promise.all([idA, idB].map((id) => s.loop.runner.cp.runs.get(id)));
    return runs.every((r) => r.state === 'awaiting_approval');
  });
  const held = (await Promise.all([idA, idB].map((id) => s.loop.runner.cp.runs.get(id)))).find((r) => r.approval?.held)!;
  const sent = held.id === idA ? idB : idA;
  assert.ok(held, 'one request is held back');
  assert.ok((await s.audit(held.id)).some((r) => r.type === 'approval.held'));
  assert.equal((await s.ntfy.notifications('alice')).filter((m) => String(m.message).includes(`run ${held.id}`)).length, 0, 'nobody is asked about it yet');
  await s.tap(await s.request(sent, 'alice'), 'Deny');
  const request = await s.request(held.id, 'alice');
  assert.match(String(request.title), /^Approve\?/);
  assert.equal((await s.loop.runner.cp.runs.get(held.id)).approval?.held, false);
});
