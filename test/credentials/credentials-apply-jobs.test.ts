// After every apply job, whether it applied, failed, timed out or had its engine killed, no token or
// lease of that job is alive in Vault; the job directory with its plan file is gone.
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { test } from 'node:test';
import type { Run } from '../../src/run/run.ts';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { pushCommit } from '../git-fixtures.ts';
import { TF_TWO } from '../e2e/loop-fixture.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { hostPidOf, waitFor, waitForState } from '../support/harness.ts';
import { setupVaultLoop, type VaultLoop } from './vault-loop.ts';

const isDouble = engineForTests().isDouble;
const needsDouble = !isDouble && 'needs the engine double\'s knobs';

/** Plan a PR head, approve it, and return the run once the apply job has ended (and the id). */
async function planApproveAndWait(x: VaultLoop, during?: (id: string) => Promise<void>): Promise<Run> {
  const { loop } = x;
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  await waitForState(loop.runner, id, ['awaiting_approval']);
  assert.equal((await loop.cli('approve', id, '--yes')).code, 0);
  await during?.(id);
  return waitForState(loop.runner, id, ['applied', 'failed', 'needs_attention']);
}

/** Nothing of the job is alive in Vault, and the apply did hold credentials (so the check is not vacuous). */
async function assertNothingAlive(x: VaultLoop, run: Run): Promise<void> {
  assert.deepEqual(await x.s.liveTokens(), [], 'no token of the job is alive');
  assert.deepEqual(await x.s.liveLeases(), [], 'no lease of the job is alive');
  const records = await readAuditRecords(x.loop.runner.cp.paths.auditDir, { run: run.id });
  const issued = records.filter((r) => r.type === 'credentials.issued').map((r) => r.detail?.['phase']);
  const revoked = records.filter((r) => r.type === 'credentials.revoked').map((r) => r.detail?.['phase']);
  assert.deepEqual(issued, ['plan', 'apply']);
  assert.deepEqual(revoked, ['plan', 'apply']);
  if (x.vault.double) {
    const leased = records.find((r) => r.type === 'credentials.issued' && r.detail?.['phase'] === 'apply');
    assert.equal(leased?.detail?.['leases'], 1, 'the apply held a dynamic lease');
  }
  await waitFor('the job directory to be removed', async () => access(x.loop.runner.cp.paths.job(run.id).dir).then(() => false, () => true), 5000);
}

test('applied: the apply token and its lease are revoked', async (t) => {
  const x = await setupVaultLoop(t);
  const run = await planApproveAndWait(x);
  assert.equal(run.state, 'applied', JSON.stringify(run.error));
  await assertNothingAlive(x, run);
});

test('failed: the engine fails the apply; the credentials are revoked all the same', { skip: needsDouble }, async (t) => {
  const x = await setupVaultLoop(t, { engineEnv: { AIRLOCK_DOUBLE_FAIL: 'apply' } });
  const run = await planApproveAndWait(x);
  assert.equal(run.state, 'failed');
  assert.equal(run.error?.code, 'airlock:engine-failed');
  await assertNothingAlive(x, run);
});

test('timed out: the engine outlives engine.timeouts.apply and is stopped; the credentials are revoked', { skip: needsDouble }, async (t) => {
  const x = await setupVaultLoop(t, { engineEnv: { AIRLOCK_DOUBLE_DELAY_MS: '20000', AIRLOCK_DOUBLE_DELAY_COMMANDS: 'apply' }, engineTimeouts: { apply: '1s' } });
  const run = await planApproveAndWait(x);
  assert.equal(run.state, 'failed');
  assert.equal(run.error?.code, 'airlock:engine-timeout');
  await assertNothingAlive(x, run);
});

test('killed: the engine process is SIGKILLed mid-apply; the credentials are revoked', { skip: needsDouble }, async (t) => {
  const x = await setupVaultLoop(t, { engineEnv: { AIRLOCK_DOUBLE_DELAY_MS: '20000', AIRLOCK_DOUBLE_DELAY_COMMANDS: 'apply' } });
  const run = await planApproveAndWait(x, async () => {
    const apply = await waitFor('the apply process', async () => (await x.loop.invocations('apply'))[0]);
    assert.equal((await x.s.liveTokens()).length, 1, 'the apply token is alive while the engine runs');
    process.kill(await hostPidOf(apply), 'SIGKILL');
  });
  assert.equal(run.state, 'failed');
  assert.equal(run.error?.code, 'airlock:engine-killed');
  await assertNothingAlive(x, run);
});
