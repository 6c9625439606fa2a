// Vault sealed or down when an approved apply starts: the apply is refused with the reason, on record,
// after one request (or none), and never tried again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { approveExpectingRefusal, planNewHead, setupVaultLoop } from './vault-loop.ts';

const realVault = !!process.env['AIRLOCK_TEST_VAULT_ADDR'];

test('Vault sealed or down at apply time: the run fails cleanly with the reason, one request, no retry storm', { skip: realVault && 'needs the Vault double\'s switches' }, async (t) => {
  const x = await setupVaultLoop(t);
  const double = x.vault.double!;

  const id1 = await planNewHead(x);
  double.seal();
  let before = double.requests.length;
  const sealed = await approveExpectingRefusal(x, id1, 'airlock:vault-sealed');
  assert.match(sealed.run.error!.message, /Vault at http:\/\/127\.0\.0\.1:\d+ is sealed/);
  assert.match(sealed.run.error!.message, /Unseal Vault/);
  // Outlast several stalled-job checks: an apply is attempted once.
  await new Promise((r) => setTimeout(r, 2500));
  assert.deepEqual(double.requests.slice(before).map((r) => `${r.path} ${r.status}`), ['auth/approle/login 503']);
  assert.equal((await x.loop.runner.cp.runs.get(id1)).state, 'failed');
  double.unseal();

  const id2 = await planNewHead(x);
  await double.pause();
  before = double.requests.length;
  const down = await approveExpectingRefusal(x, id2, 'airlock:vault-unreachable').finally(() => double.resume());
  assert.match(down.run.error!.message, /cannot reach Vault at http:\/\/127\.0\.0\.1:\d+ to log in for the apply identity of infra\/default: ECONNREFUSED/);
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(double.requests.length, before, 'nothing reached Vault, and nothing tried again once it was back');
});
