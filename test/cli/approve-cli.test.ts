// `airlock approve` as an operator meets it: without a terminal it needs --yes; a refusal says why a plan
// needs --confirm; beside ntfy a terminal decision is break-glass and `audit check` says so.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setupNtfyLoop } from '../approve/ntfy-loop-fixture.ts';
import { setupLoop, TF_TWO } from '../e2e/loop-fixture.ts';
import { pushCommit } from '../git-fixtures.ts';
import { cliLine, runCli, withTerminal } from '../support/cli-process.ts';
import { waitFor, waitForState } from '../support/harness.ts';

test('approve without a terminal needs --yes; a confirm-tier plan that only creates says why it needs --confirm', async (t) => {
  const loop = await setupLoop(t, { extra: { policy: { protected: ['terraform_data.a'] } } });
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha), ['awaiting_approval']);
  assert.equal(run.plan?.tier, 'confirm');
  assert.equal(run.plan?.summary.counts.delete, 0);

  // No terminal, no --yes: nothing is approved (it used to approve a plain plan without asking).
  const plainSha = await pushCommit(loop.remote, { 'main.tf': 'resource "terraform_data" "c" {\n  input = "c"\n}\n' }, { refs: ['refs/pull/2/head'] });
  await loop.runner.watcher.pollAll();
  const plain = await waitForState(loop.runner, loop.runId(plainSha), ['awaiting_approval']);
  assert.equal(plain.plan?.tier, 'approve');
  const unasked = await runCli(['approve', plain.id, '--config', loop.loaded.file]);
  assert.equal(unasked.code, 1, unasked.stdout + unasked.stderr);
  assert.match(unasked.stderr, /code: airlock:approve-needs-yes/);
  assert.equal((await loop.runner.cp.runs.get(plain.id)).state, 'awaiting_approval', 'nothing approved');
  const blind = await runCli(['approve', run.id, '--config', loop.loaded.file]);
  assert.equal(blind.code, 1, blind.stdout + blind.stderr);
  assert.match(blind.stderr, new RegExp(`^error: no terminal to ask on: approving run ${run.id} without asking needs --yes$`, 'm'));
  assert.match(blind.stderr, new RegExp(`next: Read \`airlock show ${run.id}\`, then run \`airlock approve ${run.id} --yes\` --confirm\\.`));
  assert.match(blind.stderr, /code: airlock:approve-needs-yes/);
  assert.equal((await loop.runner.cp.runs.get(run.id)).state, 'awaiting_approval');

  // --yes without --confirm: refused with the policy's reason, not "destroys resources".
  const unconfirmed = await runCli(['approve', run.id, '--yes', '--config', loop.loaded.file]);
  assert.equal(unconfirmed.code, 1);
  assert.match(unconfirmed.stderr, /this plan needs an explicit confirmation \(tier confirm\): \[protect:terraform_data\.a\] protected: changing it needs confirmation: terraform_data\.a/);
  assert.doesNotMatch(unconfirmed.stderr, /destroy/);
  assert.equal((await loop.runner.cp.runs.get(run.id)).state, 'awaiting_approval');

  // At a terminal the prompt says the same, and asks for the number of changes (nothing is destroyed).
  const term = withTerminal(cliLine(loop.loaded.file, 'approve', run.id));
  t.after(() => void (term.child.exitCode === null && term.child.kill('SIGKILL')));
  await waitFor('the approve prompt', async () => term.output().includes('[y/N]'));
  term.child.stdin.write('y\n');
  await waitFor('the confirmation prompt', async () => term.output().includes('to confirm:'));
  assert.match(term.output(), /This plan needs a confirmation: \[protect:terraform_data\.a\] protected: changing it needs confirmation: terraform_data\.a\. Type 2 to confirm: /);
  term.child.stdin.write('2\n');
  assert.equal(await term.exited, 0, term.output());
  assert.match(term.output(), /approved run .*; the apply is queued \(decision by os:.* via the terminal channel, audited\)/);
  await waitForState(loop.runner, run.id, ['applied']);
});

test('a decision at the terminal beside ntfy is break-glass: audit check reports it', async (t) => {
  const { loop } = await setupNtfyLoop(t);
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/3/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha), ['awaiting_approval']);
  const approved = await runCli(['approve', run.id, '--yes', '--config', loop.loaded.file]);
  assert.equal(approved.code, 0, approved.stderr);
  assert.match(approved.stdout, /\(break-glass decision by os:.*, audited\)/);
  const check = await runCli(['audit', 'check', '--config', loop.loaded.file]);
  assert.equal(check.code, 1, check.stdout);
  assert.match(check.stdout, new RegExp(`^break-glass +test-cli\\.jsonl seq 1 .*run ${run.id}: approval\\.granted by os:.* \\(break-glass\\), bypassing the ntfy channel$`, 'm'));
});
