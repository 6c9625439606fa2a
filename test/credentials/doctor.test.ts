// `airlock doctor` learns Vault: reachability and seal status, both identities log in, the plan identity
// is denied (a real 403) on the apply identity's paths, and token TTLs cover the engine timeouts.
import assert from 'node:assert/strict';
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { renderChecks, runDoctor, type Check } from '../../src/cli/doctor.ts';
import { makeRemote } from '../git-fixtures.ts';
import { deletePrefix, removeDir, tempDir, testPrefix, writeConfig } from '../support/harness.ts';
import { createScenario, KV2, vaultForTests, type Scenario, type VaultUnderTest } from './vault-fixture.ts';
import { credentialedWorkspace } from './vault-loop.ts';

const realVault = !!process.env['AIRLOCK_TEST_VAULT_ADDR'];

async function doctorFor(t: TestContext, opts: { tokenTtl?: string; applyWrapped?: boolean; prepare?: (s: Scenario, v: VaultUnderTest) => Promise<void> } = {}) {
  const vault = await vaultForTests();
  const s = await createScenario(vault, opts.tokenTtl ? { tokenTtl: opts.tokenTtl } : {});
  const root = await tempDir('doctor');
  const remote = await makeRemote();
  const prefix = testPrefix();
  t.after(async () => {
    await s.cleanup().catch(() => undefined);
    await vault.close();
    await remote.cleanup();
    await removeDir(root);
    await deletePrefix(prefix);
  });
  const { files, workspace } = await credentialedWorkspace(s, vault, opts.applyWrapped ?? false);
  const loaded = await writeConfig({
    remoteUrl: remote.url,
    dataDir: path.join(root, 'data'),
    prefix,
    workspaces: [workspace],
    extra: { vault: { address: vault.address, timeout: '2s' } },
  });
  await opts.prepare?.(s, vault);
  const checks = (await runDoctor(loaded.file)).filter((c) => c.name.startsWith('vault'));
  let printed = '';
  renderChecks(checks, { out: (l) => (printed += `${l}\n`), err: () => undefined, isTTY: false });
  return { checks, printed, s, vault, files };
}

const byName = (checks: Check[], name: string) => {
  const c = checks.find((x) => x.name === name);
  assert.ok(c, `no check named ${name}: ${checks.map((x) => x.name).join(', ')}`);
  return c;
};

test('a healthy setup: one clear line per check, all passing, and no token left behind', async (t) => {
  const { checks, printed, s } = await doctorFor(t);
  assert.deepEqual(
    checks.map((c) => [c.name, c.ok, c.warn ?? false]),
    [
      ['vault', true, false],
      ['vault infra/default plan', true, false],
      ['vault infra/default plan ttl', true, false],
      ['vault infra/default plan secrets', true, false],
      ['vault infra/default plan isolation', true, false],
      ['vault infra/default apply', true, false],
      ['vault infra/default apply ttl', true, false],
      ['vault infra/default apply secrets', true, false],
    ],
    printed,
  );
  assert.match(byName(checks, 'vault').detail, /reachable, unsealed/);
  assert.match(byName(checks, 'vault infra/default plan').detail, new RegExp(`logs in \\(policies .*${s.plan.policy}.*; token TTL 2h\\)`));
  assert.match(byName(checks, 'vault infra/default plan ttl').detail, /token TTL 2h covers init \+ plan \+ show \(9m\)/);
  assert.match(byName(checks, 'vault infra/default plan isolation').detail, /denied \(403\) on all \d+ of the apply identity's path\(s\)/);
  assert.match(printed, /✔ vault infra\/default apply secrets: reads its \d+ mapped secret\(s\) from \d+ path\(s\)/);
  for (const v of Object.values(s.values)) assert.ok(!printed.includes(v), 'no secret value is printed');
  assert.deepEqual(await s.liveTokens(), [], 'doctor revokes what it logs in with');
  assert.deepEqual(await s.liveLeases(), []);
});

test('a plan identity that can read an apply path fails the isolation check, naming the path', async (t) => {
  const { checks, printed } = await doctorFor(t, {
    prepare: async (s, vault) => {
      await vault.api('PUT', `sys/policies/acl/${s.plan.policy}`, { policy: `path "${KV2}/data/${s.id}/*" { capabilities = ["read"] }` });
    },
  });
  const isolation = byName(checks, 'vault infra/default plan isolation');
  assert.equal(isolation.ok, false);
  assert.match(isolation.detail, /the plan identity is NOT denied on the apply identity's `airlock-kv2\/data\/t[0-9a-f]+\/apply` \(read succeeded\)/);
  assert.match(printed, /✖ vault infra\/default plan isolation: .*\n    fix: remove those paths from the plan role's policies/);
});

test('a token TTL shorter than the engine timeouts fails with the TTL to set', async (t) => {
  const { checks } = await doctorFor(t, { tokenTtl: '5m' });
  const ttl = byName(checks, 'vault infra/default plan ttl');
  assert.equal(ttl.ok, false);
  assert.match(ttl.detail, /token TTL 5m is shorter than the 9m the engine may run \(engine\.timeouts init \+ plan \+ show\)/);
  assert.match(ttl.fix ?? '', /raise token_ttl on the role to at least 9m/);
  assert.equal(byName(checks, 'vault infra/default apply ttl').ok, true, 'apply: 5m covers the 2m apply timeout');
});

test('a wrapped secret_id is looked up, not used up', async (t) => {
  const { checks, files, vault } = await doctorFor(t, { applyWrapped: true });
  const apply = byName(checks, 'vault infra/default apply');
  assert.equal(apply.ok, true);
  assert.equal(apply.warn, true);
  assert.match(apply.detail, /wrapped secret_id from auth\/approle\/role\/t[0-9a-f]+-apply\/secret-id is live/);
  const { readFile } = await import('node:fs/promises');
  const lookup = await vault.api('POST', 'sys/wrapping/lookup', { token: (await readFile(files.apply, 'utf8')).trim() });
  assert.equal(lookup.status, 200, 'still unwrappable by the runner');
  // The plan identity still proves it is denied on the apply paths.
  assert.equal(byName(checks, 'vault infra/default plan isolation').ok, true);
});

test('bad secret_id files and failed logins are reported per identity with the fix', async (t) => {
  const { checks } = await doctorFor(t, {
    prepare: async (s) => {
      await chmod(path.join(s.dir, 'plan.secret-id'), 0o640);
      const { writeFile } = await import('node:fs/promises');
      await writeFile(path.join(s.dir, 'apply.secret-id'), 'not-a-secret-id', { mode: 0o600 });
    },
  });
  const plan = byName(checks, 'vault infra/default plan');
  assert.equal(plan.ok, false);
  assert.match(plan.detail, /has mode 640; others on the host could read the secret_id/);
  const apply = byName(checks, 'vault infra/default apply');
  assert.equal(apply.ok, false);
  assert.match(apply.detail, /Vault refused the AppRole login of the apply identity of infra\/default/);
  assert.match(apply.fix ?? '', /issue-secret-id\.sh/);
});

test('a sealed Vault is one failing line; nothing else is tried', { skip: realVault && 'needs the double\'s seal switch' }, async (t) => {
  const { checks, vault } = await doctorFor(t, { prepare: async (_s, v) => v.double!.seal() });
  assert.deepEqual(checks.map((c) => [c.name, c.ok]), [['vault', false]]);
  assert.match(checks[0]!.detail, /is sealed/);
  assert.match(checks[0]!.fix ?? '', /operator unseal/);
  assert.equal(vault.double!.requests.filter((r) => r.path === 'auth/approle/login').length, 0);
});

test('certificate checks switched off process-wide are a failing line', async (t) => {
  const saved = process.env['NODE_TLS_REJECT_UNAUTHORIZED'];
  process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = '0';
  t.after(() => (saved === undefined ? delete process.env['NODE_TLS_REJECT_UNAUTHORIZED'] : (process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = saved)));
  const { checks } = await doctorFor(t);
  const tls = byName(checks, 'vault tls');
  assert.equal(tls.ok, false);
  assert.match(tls.detail, /NODE_TLS_REJECT_UNAUTHORIZED=0 switches certificate checks off/);
});
