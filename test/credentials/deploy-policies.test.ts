// The policies shipped in deploy/vault/ do what their comments say, on the double or a real server
// (AIRLOCK_TEST_VAULT_ADDR): the plan identity reads only plan secrets and is denied every apply path;
// the apply identity reads its secrets and revokes its own leases. And, because Vault picks one deciding
// rule rather than letting any deny win, the plan policy's wildcard deny holds against broader grants
// attached by mistake but not against more specific ones, which only the exact per-workspace deny stops.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createVaultClient } from '../../src/credentials/vault-client.ts';
import { Scrubber } from '../../src/log/scrub.ts';
import { DB, KV2, vaultScope, type VaultUnderTest } from './vault-fixture.ts';

const shipped = (name: string) => readFile(fileURLToPath(new URL(`../../deploy/vault/${name}.hcl`, import.meta.url)), 'utf8');

/** A shipped policy moved onto the test server's mounts: kv/ → the KV v2 test mount, database/ → the double's. */
const onTestMounts = (hcl: string) => hcl.replaceAll('"kv/', `"${KV2}/`).replace(/(["/])database\//g, `$1${DB}/`);

interface Setup {
  vault: VaultUnderTest;
  ws: string;
  /** An AppRole session whose token carries exactly these policies (no `default`). */
  loginWith(policies: Record<string, string>): Promise<Awaited<ReturnType<ReturnType<typeof createVaultClient>['login']>>>;
}

async function setup(t: TestContext): Promise<Setup> {
  const { vault, defer } = await vaultScope(t);
  const id = `t${randomBytes(5).toString('hex')}`;
  const ws = `ws${id}`;
  const must = async (method: string, p: string, body?: unknown) => {
    const r = await vault.api(method, p, body);
    if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  for (const phase of ['plan', 'apply']) {
    await must('POST', `${KV2}/data/airlock/${ws}/${phase}`, { data: { secret: `${phase}-value` } });
    defer(() => vault.api('DELETE', `${KV2}/metadata/airlock/${ws}/${phase}`));
  }
  if (vault.double) await must('POST', `${DB}/roles/airlock-apply`, { default_ttl: '1h' });
  let n = 0;
  return {
    vault,
    ws,
    async loginWith(policies) {
      const role = `${id}-${++n}`;
      for (const [name, text] of Object.entries(policies)) {
        await must('PUT', `sys/policies/acl/${role}-${name}`, { policy: text });
        defer(() => vault.api('DELETE', `sys/policies/acl/${role}-${name}`));
      }
      await must('POST', `auth/approle/role/${role}`, { token_policies: Object.keys(policies).map((name) => `${role}-${name}`), token_no_default_policy: true, token_ttl: '1h' });
      defer(() => vault.api('DELETE', `auth/approle/role/${role}`));
      const roleId = (await must('GET', `auth/approle/role/${role}/role-id`)).data.role_id;
      const secretId = (await must('POST', `auth/approle/role/${role}/secret-id`, {})).data.secret_id;
      const session = await createVaultClient({ address: vault.address, timeoutMs: 5000 }, new Scrubber()).login('approle', roleId, secretId);
      defer(() => session.revokeSelf());
      return session;
    },
  };
}

const code = (p: Promise<unknown>) => p.then(() => 'ok', (err: { code: string }) => err.code);

test('deploy/vault policies: plan reads plan secrets only; apply reads apply secrets and revokes its leases', async (t) => {
  const s = await setup(t);
  const plan = await s.loginWith({ plan: onTestMounts(await shipped('airlock-plan')) });
  const apply = await s.loginWith({ apply: onTestMounts(await shipped('airlock-apply')) });

  assert.equal(await code(plan.read(`${KV2}/data/airlock/${s.ws}/plan`)), 'ok');
  assert.equal(await code(plan.read(`${KV2}/data/airlock/${s.ws}/apply`)), 'airlock:vault-permission-denied');
  assert.equal(await code(plan.read(`${KV2}/data/other/secret`)), 'airlock:vault-permission-denied');
  assert.equal(await code(apply.read(`${KV2}/data/airlock/${s.ws}/apply`)), 'ok');
  assert.equal(await code(apply.read(`${KV2}/data/airlock/${s.ws}/plan`)), 'airlock:vault-permission-denied');
  if (s.vault.double) {
    assert.equal(await code(plan.read(`${DB}/creds/airlock-apply`)), 'airlock:vault-permission-denied');
    const lease = await apply.read(`${DB}/creds/airlock-apply`);
    assert.ok(lease.leaseId);
    assert.equal(await code(apply.revokeLease(lease.leaseId)), 'ok');
    assert.deepEqual(s.vault.double.liveLeases(), []);
  }
  // The default policy is left off, so the shipped policies alone must allow revoke-self.
  await plan.revokeSelf();
  await apply.revokeSelf();
  if (s.vault.double) assert.deepEqual(s.vault.double.liveTokens(), []);
});

test('a grant attached to the plan role by mistake: the wildcard deny stops broader grants, not more specific ones', async (t) => {
  const s = await setup(t);
  const planPolicy = onTestMounts(await shipped('airlock-plan'));
  const applyPath = `${KV2}/data/airlock/${s.ws}/apply`;
  const withMistake = async (grant: string) => {
    const session = await s.loginWith({ plan: planPolicy, mistake: `path "${grant}" { capabilities = ["read"] }` });
    return code(session.read(applyPath));
  };
  for (const grant of [`${KV2}/*`, `${KV2}/data/*`, `${KV2}/data/airlock/*`]) {
    assert.equal(await withMistake(grant), 'airlock:vault-permission-denied', `${grant} loses to kv/data/airlock/+/apply`);
  }
  // Vault decides by the one most specific rule: these beat the wildcard deny (the old double said 403).
  for (const grant of [`${KV2}/data/airlock/${s.ws}/*`, applyPath]) {
    assert.equal(await withMistake(grant), 'ok', `${grant} outranks the wildcard deny`);
  }
});

test('the exact per-workspace deny from setup-approle.sh WORKSPACES is a veto against any other grant', async (t) => {
  const s = await setup(t);
  const workspaceDeny = onTestMounts((await shipped('airlock-plan-workspace')).replaceAll('WORKSPACE', s.ws));
  const planPolicy = `${onTestMounts(await shipped('airlock-plan'))}\n${workspaceDeny}`;
  const applyPath = `${KV2}/data/airlock/${s.ws}/apply`;
  for (const grant of [`${KV2}/data/airlock/${s.ws}/*`, `${KV2}/data/airlock/+/apply`, applyPath]) {
    const session = await s.loginWith({ plan: planPolicy, mistake: `path "${grant}" { capabilities = ["read"] }` });
    assert.equal(await code(session.read(applyPath)), 'airlock:vault-permission-denied', grant);
    assert.equal(await code(session.read(`${KV2}/data/airlock/${s.ws}/plan`)), 'ok', 'the plan secret stays readable');
  }
});
