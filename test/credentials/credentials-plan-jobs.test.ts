// Plan jobs and credentials: fetched only after the guard passed, and revoked after every plan, whether
// it failed, timed out or was superseded by a newer head.
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { test } from 'node:test';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { pushCommit } from '../git-fixtures.ts';
import { TF_ONE_CHANGED, TF_TWO } from '../e2e/loop-fixture.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { waitFor, waitForState } from '../support/harness.ts';
import type { VaultLoop } from './vault-loop.ts';
import { setupVaultLoop } from './vault-loop.ts';

const isDouble = engineForTests().isDouble;
const needsDouble = !isDouble && 'needs the engine double\'s knobs';

async function credentialRecords(x: VaultLoop, runId: string) {
  const records = await readAuditRecords(x.loop.runner.cp.paths.auditDir, { run: runId });
  return {
    issued: records.filter((r) => r.type === 'credentials.issued').map((r) => r.detail?.['phase']),
    revoked: records.filter((r) => r.type === 'credentials.revoked').map((r) => r.detail?.['phase']),
  };
}

const gone = (p: string) => access(p).then(() => false, () => true);

test('a failed plan revokes its token, and its job directory goes at once', { skip: needsDouble }, async (t) => {
  const x = await setupVaultLoop(t, { engineEnv: { AIRLOCK_DOUBLE_FAIL: 'plan' } });
  const sha = await pushCommit(x.loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await x.loop.runner.watcher.pollAll();
  const id = x.loop.runId(sha);
  const run = await waitForState(x.loop.runner, id, ['failed', 'awaiting_approval']);
  assert.equal(run.state, 'failed');
  assert.deepEqual(await x.s.liveTokens(), []);
  assert.deepEqual(await credentialRecords(x, id), { issued: ['plan'], revoked: ['plan'] });
  await waitFor('the job dir to go', () => gone(x.loop.runner.cp.paths.job(id).dir), 5000);
});

test('a plan that times out on every attempt revokes the token of each attempt', { skip: needsDouble }, async (t) => {
  const x = await setupVaultLoop(t, { engineEnv: { AIRLOCK_DOUBLE_DELAY_MS: '20000', AIRLOCK_DOUBLE_DELAY_COMMANDS: 'plan' }, engineTimeouts: { plan: '1s' } });
  const sha = await pushCommit(x.loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await x.loop.runner.watcher.pollAll();
  const id = x.loop.runId(sha);
  const run = await waitForState(x.loop.runner, id, ['failed', 'awaiting_approval'], 30_000);
  assert.equal(run.error?.code, 'airlock:engine-timeout');
  assert.deepEqual(await x.s.liveTokens(), []);
  assert.deepEqual(await credentialRecords(x, id), { issued: ['plan', 'plan'], revoked: ['plan', 'plan'] }, 'two attempts, two tokens, both revoked');
});

test('a plan superseded by a newer head while the engine runs revokes its token', { skip: needsDouble }, async (t) => {
  const x = await setupVaultLoop(t, { engineEnv: { AIRLOCK_DOUBLE_DELAY_MS: '1500', AIRLOCK_DOUBLE_DELAY_COMMANDS: 'plan' } });
  const first = await pushCommit(x.loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await x.loop.runner.watcher.pollAll();
  await waitFor('the first plan to run', async () => (await x.loop.invocations('plan')).length > 0);
  const second = await pushCommit(x.loop.remote, { 'main.tf': TF_ONE_CHANGED }, { refs: ['refs/pull/1/head'] });
  await x.loop.runner.watcher.pollAll();
  const older = x.loop.runId(first);
  await waitForState(x.loop.runner, x.loop.runId(second), ['awaiting_approval']);
  assert.equal((await x.loop.runner.cp.runs.get(older)).state, 'superseded');
  await waitFor('the superseded plan to release its credentials', async () => (await credentialRecords(x, older)).revoked.length === 1);
  assert.deepEqual(await x.s.liveTokens(), []);
});

test('a plan refused by the guard never logs in', async (t) => {
  const x = await setupVaultLoop(t);
  const before = x.vault.double?.requests.filter((r) => r.path === 'auth/approle/login').length;
  const sha = await pushCommit(x.loop.remote, { 'main.tf': TF_TWO, '.terraformrc': 'provider_installation {}\n' }, { refs: ['refs/pull/1/head'] });
  await x.loop.runner.watcher.pollAll();
  const id = x.loop.runId(sha);
  assert.equal((await waitForState(x.loop.runner, id, ['refused', 'failed', 'awaiting_approval'])).state, 'refused');
  assert.deepEqual(await credentialRecords(x, id), { issued: [], revoked: [] });
  if (x.vault.double) assert.equal(x.vault.double.requests.filter((r) => r.path === 'auth/approle/login').length, before);
});
