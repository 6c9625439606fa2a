// The whole loop on real Redis and real git: a PR head moves, the runner plans it, a human decides
// through the CLI, the runner applies exactly the approved plan file, and every step is on record.
import assert from 'node:assert/strict';
import { applyDirLayout } from '../../src/apply/apply-dir.ts';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { sha256File } from '../../src/plan/plan-file.ts';
import { pushCommit } from '../git-fixtures.ts';
import { engineForTests, sandboxedTests } from '../support/engine-under-test.ts';
import { waitForState } from '../support/harness.ts';
import { setupLoop, TF_ONE_CHANGED, TF_TWO } from './loop-fixture.ts';

const isDouble = engineForTests().isDouble;

test('a PR head plans, the operator approves: exactly one apply, of the approved plan file', async (t) => {
  const loop = await setupLoop(t);
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  const planned = await waitForState(loop.runner, id, ['awaiting_approval']);
  assert.equal(planned.pr, 1);
  assert.equal(planned.plan?.summary.counts.create, 2);
  assert.equal(planned.plan?.tier, 'approve');
  const planFile = loop.runner.cp.paths.job(id).planFile;
  assert.equal(await sha256File(planFile), planned.plan?.sha256, 'the recorded hash is the plan file on disk');

  const approved = await loop.cli('approve', id, '--yes');
  assert.equal(approved.code, 0, approved.err);
  assert.match(approved.out, /approved run/);
  const applied = await waitForState(loop.runner, id, ['applied', 'failed', 'needs_attention']);
  assert.equal(applied.state, 'applied', JSON.stringify(applied.error));
  assert.equal(applied.decision?.planSha256, planned.plan?.sha256);
  assert.match(applied.decision?.by.id ?? '', /^os:/);

  if (isDouble) {
    const applies = await loop.invocations('apply');
    assert.equal(applies.length, 1, 'exactly one apply');
    // The apply ran in its own fresh directory, on the runner's hashed copy of the approved plan file.
    const applyDir = applyDirLayout(loop.runner.cp.paths.job(id).dir);
    assert.equal(applies[0]!.argv.at(-1), applyDir.planFile, 'the hashed copy of the saved plan file was applied');
    assert.equal(applies[0]!.cwd, applyDir.work, 'the apply ran in its own directory, not the plan\'s');
  }
  // Every engine step ran in the sandbox, and the state is where the runner's backend says.
  const records = await readAuditRecords(loop.runner.cp.paths.auditDir, { run: id });
  for (const type of ['plan.started', 'plan.finished', 'apply.started']) {
    assert.equal(records.find((r) => r.type === type)?.detail?.['sandbox'], sandboxedTests() ? 'bwrap' : 'none', type);
  }
  const state = JSON.parse(await readFile(loop.runner.cp.paths.stateFile('infra', 'default'), 'utf8')) as { resources: Array<{ type: string; name: string }> };
  assert.deepEqual(state.resources.map((r) => `${r.type}.${r.name}`).sort(), ['terraform_data.a', 'terraform_data.b']);
  const types = records.map((r) => r.type);
  for (const step of ['run.sighted', 'plan.started', 'plan.finished', 'approval.requested', 'approval.granted', 'apply.started', 'apply.finished']) {
    assert.ok(types.includes(step), `audit has ${step}: ${types.join(',')}`);
  }
  // A second approval of the same run changes nothing and is audited.
  const again = await loop.cli('approve', id, '--yes');
  assert.equal(again.code, 1);
  assert.match(again.err, /decision refused/);
  const refusals = (await readAuditRecords(loop.runner.cp.paths.auditDir, { run: id })).filter((r) => r.type === 'approval.refused');
  assert.equal(refusals.length, 1);
});

test('a denied run applies nothing', async (t) => {
  const loop = await setupLoop(t);
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/2/head'] });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  await waitForState(loop.runner, id, ['awaiting_approval']);
  assert.equal((await loop.cli('deny', id)).code, 0);
  assert.equal((await loop.runner.cp.runs.get(id)).state, 'denied');
  assert.equal((await loop.cli('approve', id, '--yes')).code, 1, 'approving after a denial is refused');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await loop.runner.cp.runs.get(id)).state, 'denied');
  if (isDouble) assert.equal((await loop.invocations('apply')).length, 0);
});

test('repeated sightings of one sha plan once', async (t) => {
  const loop = await setupLoop(t);
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/3/head', 'refs/heads/agent/x'] });
  await Promise.all([loop.runner.watcher.pollAll(), loop.runner.watcher.pollAll()]);
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  await waitForState(loop.runner, id, ['awaiting_approval']);
  await loop.restart();
  await loop.runner.watcher.pollAll();
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await loop.runner.cp.runs.list()).length, 1);
  if (isDouble) assert.equal((await loop.invocations('plan')).length, 1, 'one plan process');
  const sighted = (await readAuditRecords(loop.runner.cp.paths.auditDir)).filter((r) => r.type === 'run.sighted');
  assert.equal(sighted.length, 1);
});

test('a new commit on the PR supersedes the pending run; approving the old one is refused', async (t) => {
  const loop = await setupLoop(t);
  const first = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/4/head'] });
  await loop.runner.watcher.pollAll();
  const oldId = loop.runId(first);
  await waitForState(loop.runner, oldId, ['awaiting_approval']);
  const second = await pushCommit(loop.remote, { 'main.tf': TF_ONE_CHANGED }, { refs: ['refs/pull/4/head'] });
  await loop.runner.watcher.pollAll();
  const newId = loop.runId(second);
  const old = await waitForState(loop.runner, oldId, ['superseded']);
  assert.equal(old.supersededBy, newId);
  const refused = await loop.cli('approve', oldId, '--yes');
  assert.equal(refused.code, 1);
  assert.match(refused.err, /superseded|run is superseded/);
  await waitForState(loop.runner, newId, ['awaiting_approval']);
  if (isDouble) assert.equal((await loop.invocations('apply')).length, 0);
  const audit = await readAuditRecords(loop.runner.cp.paths.auditDir, { run: oldId });
  assert.ok(audit.some((r) => r.type === 'approval.refused'));
});

test('a plan file changed on disk after approval is refused and nothing runs', async (t) => {
  const loop = await setupLoop(t);
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/5/head'] });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  await waitForState(loop.runner, id, ['awaiting_approval']);
  // Stop the apply worker from picking the job up before the tampering, by tampering first.
  await appendFile(loop.runner.cp.paths.job(id).planFile, 'tampered');
  assert.equal((await loop.cli('approve', id, '--yes')).code, 0);
  const run = await waitForState(loop.runner, id, ['failed', 'applied']);
  assert.equal(run.state, 'failed');
  assert.match(run.error?.message ?? '', /differs from the approved plan/);
  if (isDouble) assert.equal((await loop.invocations('apply')).length, 0, 'no engine apply ran');
  const audit = await readAuditRecords(loop.runner.cp.paths.auditDir, { run: id });
  assert.ok(audit.some((r) => r.type === 'apply.refused'));
});

test('a stale plan fails with a clear cause', async (t) => {
  const loop = await setupLoop(t);
  const a = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/6/head'] });
  const b = await pushCommit(loop.remote, { 'main.tf': TF_ONE_CHANGED }, { refs: ['refs/pull/7/head'] });
  await loop.runner.watcher.pollAll();
  await waitForState(loop.runner, loop.runId(a), ['awaiting_approval']);
  await waitForState(loop.runner, loop.runId(b), ['awaiting_approval']);
  assert.equal((await loop.cli('approve', loop.runId(b), '--yes')).code, 0);
  await waitForState(loop.runner, loop.runId(b), ['applied']);
  assert.equal((await loop.cli('approve', loop.runId(a), '--yes')).code, 0);
  const stale = await waitForState(loop.runner, loop.runId(a), ['failed', 'applied']);
  assert.equal(stale.state, 'failed');
  assert.equal(stale.error?.code, 'airlock:plan-stale');
  assert.match(stale.error?.message ?? '', /stale/i);
});

test('a held state lock fails the apply and names the lock id', { skip: !isDouble && 'holding a real lock needs a second engine process' }, async (t) => {
  const loop = await setupLoop(t);
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/8/head'] });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  await waitForState(loop.runner, id, ['awaiting_approval']);
  const state = loop.runner.cp.paths.stateFile('infra', 'default');
  const lockId = 'c2a5d1e4-1b2c-4d3e-8f90-123456789abc';
  await writeFile(lockInfoPath(state), JSON.stringify({ ID: lockId, Operation: 'OperationTypeApply', Info: '', Who: 'someone@elsewhere', Version: '1.11.4', Created: new Date().toISOString(), Path: state }));
  assert.equal((await loop.cli('approve', id, '--yes')).code, 0);
  const run = await waitForState(loop.runner, id, ['failed', 'applied']);
  assert.equal(run.state, 'failed');
  assert.equal(run.error?.code, 'airlock:state-locked');
  assert.ok(run.error?.message.includes(lockId), run.error?.message);
  assert.equal(run.attention?.lockId, lockId);
  const shown = await loop.cli('show', id);
  assert.ok(shown.out.includes(lockId));
});

test('hostile ref names are data: nothing runs, and the other refs still plan', async (t) => {
  const loop = await setupLoop(t, { refs: ['refs/heads/*', 'refs/pull/*/head'] });
  const { setRef } = await import('../git-fixtures.ts');
  const good = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/9/head'] });
  // Git forbids spaces in ref names; ${IFS} is how a shell would still split them.
  for (const ref of ['refs/heads/--upload-pack=touch${IFS}PWNED', 'refs/heads/$(touch${IFS}PWNED)', 'refs/heads/`touch${IFS}PWNED`;touch${IFS}PWNED']) {
    await setRef(loop.remote, ref, good);
  }
  const other = await pushCommit(loop.remote, { 'main.tf': TF_ONE_CHANGED }, { refs: ['refs/heads/feature'] });
  await loop.runner.watcher.pollAll();
  await waitForState(loop.runner, loop.runId(good), ['awaiting_approval']);
  await waitForState(loop.runner, loop.runId(other), ['awaiting_approval']);
  const { readdir } = await import('node:fs/promises');
  for (const dir of [process.cwd(), loop.root, loop.remote.dir]) {
    assert.ok(!(await readdir(dir)).includes('PWNED'), `no PWNED in ${dir}`);
  }
});

test('a symlink in the tree refuses the checkout with a reason', async (t) => {
  const loop = await setupLoop(t);
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO, 'creds.tf': { symlink: '/etc/passwd' } }, { refs: ['refs/pull/10/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha), ['refused', 'failed', 'awaiting_approval']);
  assert.equal(run.state, 'refused');
  assert.match(run.error?.message ?? '', /symlink/);
  assert.match(run.error?.message ?? '', /creds\.tf/);
  if (isDouble) assert.equal((await runsOnTrees(loop)).length, 0, 'no engine process ran');
  const audit = await readAuditRecords(loop.runner.cp.paths.auditDir, { run: run.id });
  assert.ok(audit.some((r) => r.type === 'plan.refused'));
});

test('committed engine config is refused before any engine process', async (t) => {
  const loop = await setupLoop(t);
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO, 'terraform.d/plugins/x': 'bin', 'zz_override.tf': 'terraform {}' }, { refs: ['refs/pull/11/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha), ['refused', 'failed', 'awaiting_approval']);
  assert.equal(run.state, 'refused');
  assert.match(run.error?.message ?? '', /implied-plugin-mirror/);
  assert.match(run.error?.message ?? '', /override-file/);
  if (isDouble) assert.equal((await runsOnTrees(loop)).length, 0);
});

test('with applies disabled, plans are reported and no approval is requested', async (t) => {
  const loop = await setupLoop(t, { appliesEnabled: false });
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/12/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha), ['planned', 'awaiting_approval']);
  assert.equal(run.state, 'planned');
  assert.equal(await loop.runner.cp.approvalStore.pendingFor(run.id), 0);
  assert.equal((await loop.cli('approve', run.id, '--yes')).code, 1);
});

test('a destroying plan needs the explicit confirmation', async (t) => {
  const loop = await setupLoop(t);
  const a = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/13/head'] });
  await loop.runner.watcher.pollAll();
  await waitForState(loop.runner, loop.runId(a), ['awaiting_approval']);
  await loop.cli('approve', loop.runId(a), '--yes');
  await waitForState(loop.runner, loop.runId(a), ['applied']);
  const b = await pushCommit(loop.remote, { 'main.tf': TF_ONE_CHANGED }, { refs: ['refs/pull/14/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(b), ['awaiting_approval']);
  assert.equal(run.plan?.tier, 'confirm');
  assert.equal(run.plan?.summary.changes[0]?.action, 'delete', 'the delete is listed first');
  const first = await loop.cli('approve', run.id, '--yes');
  assert.equal(first.code, 1);
  assert.match(first.err, /confirmation/);
  assert.equal((await loop.runner.cp.runs.get(run.id)).state, 'awaiting_approval', 'nothing changed');
  assert.equal((await loop.cli('approve', run.id, '--yes', '--confirm')).code, 0);
  await waitForState(loop.runner, run.id, ['applied']);
});

/** Engine processes other than `version`, which the runner's start-up check runs before any run exists. */
async function runsOnTrees(loop: Awaited<ReturnType<typeof setupLoop>>) {
  return (await loop.invocations()).filter((i) => i.argv[0] !== 'version');
}

/** Terraform's local backend keeps lock info in `.<statefile>.lock.info` beside the state. */
function lockInfoPath(stateFile: string): string {
  const i = stateFile.lastIndexOf('/');
  return `${stateFile.slice(0, i + 1)}.${stateFile.slice(i + 1)}.lock.info`;
}

void readFile;

test('a workspace directory missing from the commit fails with a clear reason and no engine process', async (t) => {
  const loop = await setupLoop(t, { workspaces: [{ name: 'prod', dir: 'envs/prod' }] });
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/20/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha, 'prod'), ['failed', 'refused', 'awaiting_approval']);
  assert.equal(run.state, 'failed');
  assert.equal(run.error?.code, 'airlock:workspace-missing');
  assert.match(run.error?.message ?? '', /"envs\/prod"/);
  if (isDouble) assert.equal((await runsOnTrees(loop)).length, 0);
});
