// The policies shipped in deploy/vault/ do what their comments say: the plan identity reads only plan
// secrets and is denied every apply path; the apply identity reads its secrets and revokes its own leases.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createVaultClient } from '../../src/credentials/vault-client.ts';
import { Scrubber } from '../../src/log/scrub.ts';
import { VaultDouble } from '../doubles/vault-double.ts';

const policy = (name: string) => readFile(fileURLToPath(new URL(`../../deploy/vault/${name}.hcl`, import.meta.url)), 'utf8');

test('deploy/vault policies: plan reads plan secrets only; apply reads apply secrets and revokes its leases', async (t) => {
  const vault = await VaultDouble.start();
  t.after(() => vault.close());
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${vault.address}/v1/${path}`, { method, headers: { 'X-Vault-Token': vault.rootToken, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  await api('POST', 'sys/auth/approle', { type: 'approle' });
  await api('POST', 'sys/mounts/kv', { type: 'kv', options: { version: '2' } });
  await api('POST', 'sys/mounts/database', { type: 'database' });
  await api('POST', 'database/roles/airlock-apply', { default_ttl: '1h' });
  await api('POST', 'kv/data/airlock/proxmox/plan', { data: { secret: 'read-only' } });
  await api('POST', 'kv/data/airlock/proxmox/apply', { data: { secret: 'read-write' } });
  const sessions: Record<string, Awaited<ReturnType<ReturnType<typeof createVaultClient>['login']>>> = {};
  for (const phase of ['plan', 'apply']) {
    await api('PUT', `sys/policies/acl/airlock-${phase}`, { policy: await policy(`airlock-${phase}`) });
    // The default policy is left off, so the shipped policy alone must allow revoke-self.
    await api('POST', `auth/approle/role/airlock-${phase}`, { token_policies: [`airlock-${phase}`], token_no_default_policy: true, token_ttl: '1h' });
    const roleId = (await api('GET', `auth/approle/role/airlock-${phase}/role-id`)).data.role_id;
    const secretId = (await api('POST', `auth/approle/role/airlock-${phase}/secret-id`, {})).data.secret_id;
    sessions[phase] = await createVaultClient({ address: vault.address, timeoutMs: 5000 }, new Scrubber()).login('approle', roleId, secretId);
  }
  const code = (p: Promise<unknown>) => p.then(() => 'ok', (err: { code: string }) => err.code);
  const plan = sessions['plan']!;
  const apply = sessions['apply']!;

  assert.equal(await code(plan.read('kv/data/airlock/proxmox/plan')), 'ok');
  assert.equal(await code(plan.read('kv/data/airlock/proxmox/apply')), 'airlock:vault-permission-denied');
  assert.equal(await code(plan.read('database/creds/airlock-apply')), 'airlock:vault-permission-denied');
  assert.equal(await code(plan.read('kv/data/other/secret')), 'airlock:vault-permission-denied');

  assert.equal(await code(apply.read('kv/data/airlock/proxmox/apply')), 'ok');
  assert.equal(await code(apply.read('kv/data/airlock/proxmox/plan')), 'airlock:vault-permission-denied');
  const lease = await apply.read('database/creds/airlock-apply');
  assert.ok(lease.leaseId);
  assert.equal(await code(apply.revokeLease(lease.leaseId)), 'ok');
  assert.deepEqual(vault.liveLeases(), []);

  await plan.revokeSelf();
  await apply.revokeSelf();
  assert.deepEqual(vault.liveTokens(), []);
});
