// The node-vault adapter against the Vault double (or a real dev server): AppRole login, KV v1/v2 and
// dynamic reads, revocation, response wrapping, and every failure classified from a real HTTP answer.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { createVaultClient } from '../../src/credentials/vault-client.ts';
import type { VaultError } from '../../src/credentials/errors.ts';
import { Scrubber } from '../../src/log/scrub.ts';
import { VaultDouble } from '../doubles/vault-double.ts';
import { createScenario, DB, KV1, KV2, vaultForTests, type Scenario, type VaultUnderTest } from './vault-fixture.ts';

async function setup(t: { after(fn: () => Promise<void>): void }): Promise<{ vault: VaultUnderTest; s: Scenario }> {
  const vault = await vaultForTests();
  const s = await createScenario(vault);
  t.after(async () => {
    await s.cleanup().catch(() => undefined);
    await vault.close();
  });
  return { vault, s };
}

async function rejects(p: Promise<unknown>): Promise<VaultError> {
  try {
    await p;
  } catch (err) {
    return err as VaultError;
  }
  assert.fail('expected a rejection');
}

test('AppRole login gives a short-lived token that reads KV v2, KV v1 and dynamic secrets, then revokes itself', async (t) => {
  const { vault, s } = await setup(t);
  const scrubber = new Scrubber();
  const client = createVaultClient({ address: vault.address, timeoutMs: 5000 }, scrubber, 'the apply identity of infra/default');
  const secretId = await s.issueSecretId('apply');
  const session = await client.login('approle', s.apply.roleId, secretId);
  assert.ok(session.login.accessor.length > 0);
  assert.ok(session.login.policies.includes(s.apply.policy), session.login.policies.join(','));
  assert.equal(session.login.ttlSeconds, 7200);
  assert.equal(scrubber.scrubString(secretId), '[scrubbed]', 'the secret_id is known to the scrubber before it is sent');

  const kv2 = await session.read(`${KV2}/data/${s.id}/apply`);
  assert.equal((kv2.body as any).data.data.token, s.values.applyToken);
  assert.equal(kv2.leaseId, '');
  const kv1 = await session.read(`${KV1}/${s.id}/apply`);
  assert.equal((kv1.body as any).data.password, s.values.kv1Password);
  if (vault.double) {
    const db = await session.read(`${DB}/creds/${s.id}-apply`);
    assert.match(db.leaseId, new RegExp(`^${DB}/creds/${s.id}-apply/`));
    assert.equal(db.leaseSeconds, 3600);
    assert.deepEqual(await s.liveLeases(), [db.leaseId]);
    await session.revokeLease(db.leaseId);
    assert.deepEqual(await s.liveLeases(), []);
  }
  assert.equal((await s.liveTokens()).length, 1);
  await session.revokeSelf();
  assert.deepEqual(await s.liveTokens(), []);
  const after = await rejects(session.read(`${KV2}/data/${s.id}/apply`));
  assert.equal(after.code, 'airlock:vault-permission-denied', 'a revoked token is refused');
});

test('revoke-self also ends the leases made with the token', { skip: !!process.env['AIRLOCK_TEST_VAULT_ADDR'] && 'dynamic secrets need the double' }, async (t) => {
  const { vault, s } = await setup(t);
  const session = await createVaultClient({ address: vault.address, timeoutMs: 5000 }, new Scrubber()).login('approle', s.apply.roleId, await s.issueSecretId('apply'));
  await session.read(`${DB}/creds/${s.id}-apply`);
  await session.read(`${DB}/creds/${s.id}-apply`);
  assert.equal((await s.liveLeases()).length, 2);
  await session.revokeSelf();
  assert.deepEqual(await s.liveLeases(), []);
});

test('failures are classified from the HTTP status: 403, 404 (missing and deleted), 400 on login', async (t) => {
  const { vault, s } = await setup(t);
  const client = createVaultClient({ address: vault.address, timeoutMs: 5000 }, new Scrubber(), 'the plan identity of infra/default');
  const session = await client.login('approle', s.plan.roleId, await s.issueSecretId('plan'));
  t.after(() => session.revokeSelf().catch(() => undefined));

  const denied = await rejects(session.read(`${KV2}/data/${s.id}/apply`));
  assert.equal(denied.code, 'airlock:vault-permission-denied');
  assert.equal(denied.status, 403);
  assert.match(denied.message, new RegExp(`Vault denied the plan identity of infra/default access to \`${KV2}/data/${s.id}/apply\``));

  // The plan policy may read its own path; a path it may read that holds nothing is a 404.
  await vault.api('PUT', `sys/policies/acl/${s.plan.policy}`, { policy: `path "${KV2}/data/${s.id}/*" { capabilities = ["read"] }` });
  const missing = await rejects(session.read(`${KV2}/data/${s.id}/nothing-here`));
  assert.equal(missing.code, 'airlock:vault-missing-path');
  assert.match(missing.message, /nothing is stored at/);

  await vault.api('DELETE', `${KV2}/data/${s.id}/plan`);
  const deleted = await rejects(session.read(`${KV2}/data/${s.id}/plan`));
  assert.equal(deleted.code, 'airlock:vault-missing-path');
  assert.match(deleted.message, /was deleted \(version 1\)/, 'the KV v2 404 with metadata is understood');

  const badLogin = await rejects(client.login('approle', s.plan.roleId, 'not-a-secret-id'));
  assert.equal(badLogin.code, 'airlock:vault-bad-login');
  assert.equal(badLogin.status, 400);
  assert.match(badLogin.message, /used up, expired or revoked/);
  assert.match(badLogin.hint ?? '', /issue-secret-id\.sh/);
});

test('a secret id echoed back inside a Vault error is scrubbed from the error itself', { skip: !!process.env['AIRLOCK_TEST_VAULT_ADDR'] && 'needs the double to echo inputs' }, async (t) => {
  const { vault, s } = await setup(t);
  vault.double!.echoSecretIdInLoginErrors = true;
  const leaked = `used-up-${s.values.canary}`;
  const err = await rejects(createVaultClient({ address: vault.address, timeoutMs: 5000 }, new Scrubber()).login('approle', s.apply.roleId, leaked));
  assert.equal(err.code, 'airlock:vault-bad-login');
  assert.match(err.message, /secret_id \[scrubbed\]/, 'Vault did echo it');
  for (const text of [err.message, err.stack ?? '', inspect(err, { depth: 10 }), JSON.stringify(err)]) assert.ok(!text.includes(leaked), text);
});

test('nothing comes from VAULT_* variables in the runner environment', { skip: !!process.env['AIRLOCK_TEST_VAULT_ADDR'] && 'inspects requests in the double' }, async (t) => {
  const { vault, s } = await setup(t);
  const saved = { ...process.env };
  t.after(() => {
    for (const k of ['VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_NAMESPACE', 'VAULT_PREFIX', 'VAULT_SKIP_VERIFY']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  Object.assign(process.env, { VAULT_ADDR: 'http://127.0.0.1:1', VAULT_TOKEN: vault.rootToken, VAULT_NAMESPACE: 'evil', VAULT_PREFIX: '/evil' });
  const client = createVaultClient({ address: vault.address, timeoutMs: 5000 }, new Scrubber());
  const wrapped = await s.issueSecretId('apply', { wrapped: true });
  const before = vault.double!.requests.length;
  assert.match((await client.lookupWrapping(wrapped)).creationPath, /secret-id$/);
  const session = await client.login('approle', s.apply.roleId, await s.issueSecretId('apply'));
  await session.revokeSelf();
  const ours = vault.double!.requests.slice(before).filter((r) => !r.path.includes('/secret-id'));
  assert.ok(ours.length >= 3);
  for (const r of ours) {
    assert.equal(r.namespace, null, `${r.path}: no namespace from VAULT_NAMESPACE`);
    assert.ok(!r.path.startsWith('evil'), r.path);
  }
  const rootAccessor = vault.double!.requests.find((r) => r.path === 'sys/mounts/airlock-kv2')?.accessor;
  assert.ok(rootAccessor);
  assert.ok(ours.every((r) => r.accessor !== rootAccessor), 'VAULT_TOKEN was never sent');
});

test('the configured namespace goes with every request', { skip: !!process.env['AIRLOCK_TEST_VAULT_ADDR'] && 'inspects requests in the double' }, async (t) => {
  const { vault, s } = await setup(t);
  const before = vault.double!.requests.length;
  const session = await createVaultClient({ address: vault.address, namespace: 'ops/lab', timeoutMs: 5000 }, new Scrubber()).login('approle', s.plan.roleId, await s.issueSecretId('plan'));
  await session.read(`${KV2}/data/${s.id}/plan`);
  await session.revokeSelf();
  const ours = vault.double!.requests.slice(before).filter((r) => !r.path.includes('/secret-id'));
  assert.deepEqual(ours.map((r) => r.namespace), ['ops/lab', 'ops/lab', 'ops/lab']);
});

test('a wrapped secret_id: its creation path is looked up without using it, and it unwraps exactly once', async (t) => {
  const { vault, s } = await setup(t);
  const scrubber = new Scrubber();
  const client = createVaultClient({ address: vault.address, timeoutMs: 5000 }, scrubber, 'the apply identity of infra/default');
  const wrapped = await s.issueSecretId('apply', { wrapped: true });
  const info = await client.lookupWrapping(wrapped);
  assert.equal(info.creationPath, `auth/approle/role/${s.apply.role}/secret-id`);
  assert.equal(await client.lookupWrapping(wrapped).then((i) => i.creationPath), info.creationPath, 'looking does not use it up');
  const body = (await client.unwrap(wrapped)) as { data: { secret_id: string } };
  assert.match(body.data.secret_id, /\S{8,}/);
  assert.equal(scrubber.scrubString(wrapped), '[scrubbed]');
  const again = await rejects(client.unwrap(wrapped));
  assert.equal(again.code, 'airlock:vault-unwrap-failed');
  assert.equal(again.alert, true);
  assert.match(again.message, /^ALERT: .*already unwrapped/);
  const looked = await rejects(client.lookupWrapping(wrapped));
  assert.equal(looked.code, 'airlock:vault-unwrap-failed');
});

test('sealed, down and hung servers are told apart, each after exactly one request', { skip: !!process.env['AIRLOCK_TEST_VAULT_ADDR'] && 'needs the double\'s seal and hang switches' }, async (t) => {
  const { vault, s } = await setup(t);
  const double = vault.double!;
  const client = createVaultClient({ address: vault.address, timeoutMs: 800 }, new Scrubber(), 'the apply identity of infra/default');
  const secretId = await s.issueSecretId('apply');

  double.seal();
  const before = double.requests.length;
  const sealed = await rejects(client.login('approle', s.apply.roleId, secretId));
  assert.equal(sealed.code, 'airlock:vault-sealed');
  assert.equal(sealed.retryable, true);
  assert.match(sealed.message, /is sealed/);
  assert.equal(double.requests.length - before, 1, 'no retry');
  assert.deepEqual(await client.health(), { initialized: true, sealed: true, standby: false, version: '1.15.6+airlock-double' });
  double.unseal();

  double.hang = true;
  const hung = await rejects(client.login('approle', s.apply.roleId, secretId));
  assert.equal(hung.code, 'airlock:vault-unreachable');
  assert.match(hung.message, /ECONNABORTED|timeout/i);
  double.hang = false;

  await double.pause();
  const down = await rejects(client.login('approle', s.apply.roleId, secretId));
  assert.equal(down.code, 'airlock:vault-unreachable');
  assert.match(down.message, /ECONNREFUSED/);
  await double.resume();
  const session = await client.login('approle', s.apply.roleId, secretId);
  await session.revokeSelf();
});

test('TLS is verified against vault.caFile and cannot be switched off through VAULT_SKIP_VERIFY', { skip: !!process.env['AIRLOCK_TEST_VAULT_ADDR'] && 'serves its own certificate' }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  } catch {
    t.skip('openssl is not installed');
    return;
  }
  const double = await VaultDouble.start({ tls: { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') } });
  t.after(() => double.close());
  assert.match(double.address, /^https:/);
  const saved = process.env['VAULT_SKIP_VERIFY'];
  process.env['VAULT_SKIP_VERIFY'] = '1';
  t.after(() => (saved === undefined ? delete process.env['VAULT_SKIP_VERIFY'] : (process.env['VAULT_SKIP_VERIFY'] = saved)));

  const untrusted = await rejects(createVaultClient({ address: double.address, timeoutMs: 5000 }, new Scrubber()).health());
  assert.equal(untrusted.code, 'airlock:vault-unreachable');
  assert.match(untrusted.message, /SELF_SIGNED|CERT|certificate/i, 'refused for its certificate, not silently trusted');
  const trusted = await createVaultClient({ address: double.address, ca: await readFile(cert, 'utf8'), timeoutMs: 5000 }, new Scrubber()).health();
  assert.equal(trusted.sealed, false);
});
