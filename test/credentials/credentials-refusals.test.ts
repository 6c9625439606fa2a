// When the apply identity cannot be used, the apply is refused: a clear reason on the run, an audit
// record, nothing applied, no fallback to the plan identity and no retry, whether the secret_id is used
// up or expired, or a wrapped secret_id was unwrapped by someone else (sealed/down: vault-down test).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { approveExpectingRefusal, logins, planNewHead, setupVaultLoop } from './vault-loop.ts';

test('a used-up or expired apply secret_id: refused with the reason, after one login, never as the plan identity', async (t) => {
  const x = await setupVaultLoop(t);

  const id1 = await planNewHead(x);
  const usedUp = await x.s.issueSecretId('apply', { numUses: 1 });
  const burn = await x.vault.api('POST', 'auth/approle/login', { role_id: x.s.apply.roleId, secret_id: usedUp });
  await x.vault.api('POST', 'auth/token/revoke-self', undefined, { 'X-Vault-Token': burn.body.auth.client_token });
  await writeFile(x.files.apply, usedUp, { mode: 0o600 });
  const before = logins(x).length;
  const { run } = await approveExpectingRefusal(x, id1, 'airlock:vault-bad-login');
  assert.match(run.error!.message, /Vault refused the AppRole login of the apply identity of infra\/default .*used up, expired or revoked/);
  if (x.vault.double) assert.deepEqual(logins(x).slice(before).map((r) => r.status), [400], 'one attempt, no retry, no plan identity');

  const id2 = await planNewHead(x);
  await writeFile(x.files.apply, await x.s.issueSecretId('apply', { ttl: '1s' }), { mode: 0o600 });
  await new Promise((r) => setTimeout(r, 1500));
  await approveExpectingRefusal(x, id2, 'airlock:vault-bad-login');
});

test('a wrapped secret_id someone else unwrapped: an alert on record, nothing applied', async (t) => {
  const x = await setupVaultLoop(t, { applyWrapped: true });
  const id = await planNewHead(x);
  const wrapped = await x.s.issueSecretId('apply', { wrapped: true });
  await writeFile(x.files.apply, wrapped, { mode: 0o600 });
  const stolen = await x.vault.api('POST', 'sys/wrapping/unwrap', undefined, { 'X-Vault-Token': wrapped });
  assert.equal(stolen.status, 200);
  const before = logins(x).length;
  const { run, detail } = await approveExpectingRefusal(x, id, 'airlock:vault-unwrap-failed');
  assert.equal(detail['alert'], true);
  assert.match(run.error!.message, /^ALERT: .*Someone else may hold this identity's secret_id/);
  assert.equal(logins(x).length, before, 'no login was attempted');
  assert.ok(x.loop.log.lines().some((l) => l['alert'] === true && l['level'] === 50), 'an alert-grade log line');
});
