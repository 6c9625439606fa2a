// The credential provider per job: each phase logs in with its own identity, reads only its mapping,
// and leaves no token or lease alive afterwards, whatever happened. Failures are refusals with a reason,
// never a fallback to the other identity and never a retry.
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import type { Run } from '../../src/run/run.ts';
import type { AuditInput } from '../../src/audit/audit.ts';
import { parseConfigText } from '../../src/config/load.ts';
import type { VaultError } from '../../src/credentials/errors.ts';
import { createCredentialProvider } from '../../src/credentials/provider.ts';
import { createLogger } from '../../src/log/logger.ts';
import { Scrubber } from '../../src/log/scrub.ts';
import { CapturedLog } from '../support/harness.ts';
import { createScenario, DB, KV1, KV2, vaultForTests, type Scenario, type VaultUnderTest } from './vault-fixture.ts';

const isDouble = !process.env['AIRLOCK_TEST_VAULT_ADDR'];
const RUN = { id: 'run-1', repo: 'infra', workspace: 'default' } as Run;

interface Setup {
  vault: VaultUnderTest;
  s: Scenario;
  files: { plan: string; apply: string };
  provider: ReturnType<typeof createCredentialProvider>;
  scrubber: Scrubber;
  log: CapturedLog;
  audit: AuditInput[];
  logins(role?: 'plan' | 'apply'): number;
}

async function setup(t: { after(fn: () => Promise<void>): void }, opts: { apply?: Record<string, unknown>; tokenTtl?: string; vault?: Record<string, unknown> } = {}): Promise<Setup> {
  const vault = await vaultForTests();
  const s = await createScenario(vault, opts.tokenTtl ? { tokenTtl: opts.tokenTtl } : {});
  t.after(async () => {
    await s.cleanup().catch(() => undefined);
    await vault.close();
  });
  const files = { plan: await s.secretIdFile('plan'), apply: await s.secretIdFile('apply') };
  const applySecrets = {
    PM_API_TOKEN_SECRET: `${KV2}/data/${s.id}/apply#token`,
    APPLY_CANARY: `${KV2}/data/${s.id}/apply#canary`,
    PGPASSWORD: `${KV1}/${s.id}/apply#password`,
    PGPORT: `${KV1}/${s.id}/apply#port`,
    ...(vault.double ? { DB_USER: `${DB}/creds/${s.id}-apply#username`, DB_PASS: `${DB}/creds/${s.id}-apply#password` } : {}),
  };
  const config = parseConfigText(
    stringify({
      vault: { address: vault.address, timeout: '2s', ...opts.vault },
      repos: [
        {
          name: 'infra',
          url: 'file:///srv/git/infra.git',
          workspaces: [
            {
              name: 'default',
              credentials: {
                plan: { roleId: s.plan.roleId, secretIdFile: files.plan, secrets: { PM_API_TOKEN_SECRET: `${KV2}/data/${s.id}/plan#token`, PM_API_TOKEN_ID: `${KV2}/data/${s.id}/plan#id` } },
                apply: { roleId: s.apply.roleId, secretIdFile: files.apply, secrets: applySecrets, ...opts.apply },
              },
            },
            { name: 'plain' },
          ],
        },
      ],
    }),
    'test.yaml',
  );
  const scrubber = new Scrubber();
  const log = new CapturedLog();
  const audit: AuditInput[] = [];
  const provider = createCredentialProvider(config, {
    log: createLogger({ level: 'debug', destination: log.stream, pretty: false, scrubber }),
    scrubber,
    audit: { append: async (r) => void audit.push(r) },
  });
  const logins = () => (vault.double ? vault.double.requests.filter((r) => r.path === 'auth/approle/login').length : -1);
  return { vault, s, files, provider, scrubber, log, audit, logins };
}

async function rejects(p: Promise<unknown>): Promise<VaultError> {
  try {
    await p;
  } catch (err) {
    return err as VaultError;
  }
  assert.fail('expected a refusal');
}

test('each phase gets exactly its own mapped secrets, and nothing of it is alive after release', async (t) => {
  const x = await setup(t);
  const plan = await x.provider.forPlan(RUN);
  assert.deepEqual(plan.env, { PM_API_TOKEN_SECRET: x.s.values.planToken, PM_API_TOKEN_ID: 'airlock@pve!plan' });
  assert.equal((await x.s.liveTokens()).length, 1);
  await plan.release();
  assert.deepEqual(await x.s.liveTokens(), [], 'the plan token is revoked');

  const apply = await x.provider.forApply(RUN);
  assert.equal(apply.env['PM_API_TOKEN_SECRET'], x.s.values.applyToken);
  assert.equal(apply.env['APPLY_CANARY'], x.s.values.canary);
  assert.equal(apply.env['PGPASSWORD'], x.s.values.kv1Password);
  assert.equal(apply.env['PGPORT'], '5432');
  if (x.vault.double) {
    assert.match(apply.env['DB_USER']!, /^v-approle-/);
    assert.equal((await x.s.liveLeases()).length, 1, 'username and password come from one read, one lease');
  }
  assert.ok(!Object.values(apply.env).includes(x.s.values.planToken), 'no plan secret in apply');
  await apply.release();
  await apply.release();
  assert.deepEqual(await x.s.liveTokens(), []);
  assert.deepEqual(await x.s.liveLeases(), []);

  for (const v of [x.s.values.planToken, x.s.values.applyToken, x.s.values.canary, x.s.values.kv1Password]) assert.equal(x.scrubber.scrubString(v), '[scrubbed]', 'every value is registered');
  const types = x.audit.map((r) => `${r.type}:${r.detail?.['phase']}`);
  assert.deepEqual(types, ['credentials.issued:plan', 'credentials.revoked:plan', 'credentials.issued:apply', 'credentials.revoked:apply']);
  assert.deepEqual(x.audit[2]!.detail?.['variables'], Object.keys(apply.env).sort());
  assert.ok(!x.log.raw.includes(x.s.values.canary) && !x.log.raw.includes(x.s.values.applyToken));
});

test('a workspace with `credentials: none` gets no login and an empty environment', async (t) => {
  const x = await setup(t);
  const before = x.logins();
  const none = await x.provider.forApply({ ...RUN, workspace: 'plain' });
  assert.deepEqual(none.env, {});
  await none.release();
  assert.equal(x.logins(), before);
});

/** A provider over the same Vault with a different `credentials` block for infra/default. */
function providerWith(x: Setup, credentials: unknown) {
  const config = parseConfigText(stringify({ vault: { address: x.vault.address }, repos: [{ name: 'infra', url: 'file:///x.git', workspaces: [{ name: 'default', credentials }] }] }), 'f.yaml');
  return createCredentialProvider(config, { log: createLogger({ destination: new CapturedLog().stream, pretty: false }), scrubber: new Scrubber() });
}

test('a phase set to none needs no identity, and never borrows the other one', async (t) => {
  const x = await setup(t);
  const p = providerWith(x, { plan: 'none', apply: { roleId: x.s.apply.roleId, secretIdFile: x.files.apply, secrets: { T: `${KV2}/data/${x.s.id}/apply#token` } } });
  const before = x.logins();
  assert.deepEqual((await p.forPlan(RUN)).env, {});
  assert.equal(x.logins(), before, 'no login at all for the plan');
  assert.deepEqual(await x.s.liveTokens(), []);
});

test('a failure after login (a missing key, a denied path) still revokes the token', async (t) => {
  const x = await setup(t);
  for (const [secrets, code, msg] of [
    [{ A: `${KV2}/data/${x.s.id}/apply#token`, B: `${KV2}/data/${x.s.id}/apply#no_such_key` }, 'airlock:vault-missing-key', /has no key `no_such_key`/],
    [{ A: `${KV2}/data/${x.s.id}/plan#token` }, 'airlock:vault-permission-denied', /Vault denied the apply identity of infra\/default access to/],
    [{ A: `${KV1}/${x.s.id}/nothing#x` }, 'airlock:vault-missing-path', /nothing is stored at/],
  ] as const) {
    const err = await rejects(providerWith(x, { plan: 'none', apply: { roleId: x.s.apply.roleId, secretIdFile: x.files.apply, secrets } }).forApply(RUN));
    assert.equal(err.code, code);
    assert.match(err.message, msg);
    assert.deepEqual(await x.s.liveTokens(), [], `${code}: nothing left alive`);
  }
});

test('a used-up or expired secret_id is refused with the reason; the plan identity is not tried instead', async (t) => {
  const x = await setup(t);
  await writeFile(x.files.apply, await x.s.issueSecretId('apply', { numUses: 1 }), { mode: 0o600 });
  const first = await x.provider.forApply(RUN);
  await first.release();
  const before = x.logins();
  const used = await rejects(x.provider.forApply(RUN));
  assert.equal(used.code, 'airlock:vault-bad-login');
  assert.match(used.message, /AppRole login of the apply identity of infra\/default .*used up, expired or revoked/);
  if (x.vault.double) {
    assert.equal(x.logins() - before, 1, 'one login attempt, no retry, no second identity');
    assert.equal(x.vault.double.requests.at(-1)!.status, 400);
  }

  await writeFile(x.files.apply, await x.s.issueSecretId('apply', { ttl: '1s' }), { mode: 0o600 });
  await new Promise((r) => setTimeout(r, 1600));
  assert.equal((await rejects(x.provider.forApply(RUN))).code, 'airlock:vault-bad-login');
  assert.deepEqual(await x.s.liveTokens(), []);
});

test('a wrapped secret_id is unwrapped once, even by jobs starting together, and reused', async (t) => {
  const x = await setup(t, { apply: { wrapped: true } });
  await writeFile(x.files.apply, await x.s.issueSecretId('apply', { wrapped: true }), { mode: 0o600 });
  const [a, b] = await Promise.all([x.provider.forApply(RUN), x.provider.forApply(RUN)]);
  const c = await x.provider.forApply(RUN);
  for (const creds of [a, b, c]) {
    assert.equal(creds.env['PM_API_TOKEN_SECRET'], x.s.values.applyToken);
    await creds.release();
  }
  if (x.vault.double) assert.equal(x.vault.double.requests.filter((r) => r.path === 'sys/wrapping/unwrap').length, 1);
  assert.deepEqual(await x.s.liveTokens(), []);
});

test('a wrapped secret_id someone else unwrapped first: an alert, no login, and no second try at Vault', async (t) => {
  const x = await setup(t, { apply: { wrapped: true } });
  const wrapped = await x.s.issueSecretId('apply', { wrapped: true });
  await writeFile(x.files.apply, wrapped, { mode: 0o600 });
  const stolen = await x.vault.api('POST', 'sys/wrapping/unwrap', undefined, { 'X-Vault-Token': wrapped });
  assert.equal(stolen.status, 200);

  const before = x.vault.double?.requests.length ?? 0;
  const err = await rejects(x.provider.forApply(RUN));
  assert.equal(err.code, 'airlock:vault-unwrap-failed');
  assert.equal(err.alert, true);
  assert.match(err.message, /^ALERT: /);
  assert.match(err.hint ?? '', /Treat it as a leak/);
  const again = await rejects(x.provider.forApply(RUN));
  assert.equal(again.code, 'airlock:vault-unwrap-failed');
  if (x.vault.double) {
    const calls = x.vault.double.requests.slice(before);
    assert.deepEqual(calls.map((r) => r.path), ['sys/wrapping/lookup'], 'one look, no login, nothing on the second job');
  }
  // A fresh wrapped secret_id in the file is picked up without a restart.
  await writeFile(x.files.apply, await x.s.issueSecretId('apply', { wrapped: true }), { mode: 0o600 });
  const ok = await x.provider.forApply(RUN);
  await ok.release();
});

test('a wrapping token that does not wrap an AppRole secret_id is refused without being used up', async (t) => {
  const x = await setup(t, { apply: { wrapped: true } });
  const foreign = await x.vault.api('POST', 'sys/wrapping/wrap', { secret_id: 'attacker-chosen' });
  const token = foreign.body.wrap_info.token as string;
  await writeFile(x.files.apply, token, { mode: 0o600 });
  const err = await rejects(x.provider.forApply(RUN));
  assert.equal(err.code, 'airlock:vault-unwrap-failed');
  assert.match(err.message, /was created at `sys\/wrapping\/wrap`, not by `auth\/approle\/role\/<role>\/secret-id`/);
  const still = await x.vault.api('POST', 'sys/wrapping/lookup', { token });
  assert.equal(still.status, 200, 'not unwrapped');
});

test('prepare() unwraps wrapped secret_ids at start and reports failures as alerts without throwing', async (t) => {
  const x = await setup(t, { apply: { wrapped: true } });
  const wrapped = await x.s.issueSecretId('apply', { wrapped: true });
  await writeFile(x.files.apply, wrapped, { mode: 0o600 });
  await x.provider.prepare();
  const lookup = await x.vault.api('POST', 'sys/wrapping/lookup', { token: wrapped });
  assert.equal(lookup.status, 400, 'unwrapped at start');
  await (await x.provider.forApply(RUN)).release();

  await writeFile(x.files.apply, wrapped.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')), { mode: 0o600 });
  await x.provider.prepare();
  const line = x.log.lines().find((l) => l['alert'] === true);
  assert.ok(line, x.log.raw);
  assert.match(String(line['msg']), /cannot unwrap the secret_id of the apply identity of infra\/default/);
});

test('secret_id files that others can read, that are missing or empty are refused before any request', async (t) => {
  const x = await setup(t);
  const before = x.logins();
  await chmod(x.files.apply, 0o644);
  assert.match((await rejects(x.provider.forApply(RUN))).message, /has mode 644; others on the host could read the secret_id/);
  await writeFile(x.files.apply, '', { mode: 0o600 });
  await chmod(x.files.apply, 0o600);
  assert.match((await rejects(x.provider.forApply(RUN))).message, /is empty/);
  const missing = await rejects(providerWith(x, { plan: 'none', apply: { roleId: 'r', secretIdFile: path.join(x.s.dir, 'nope') } }).forApply(RUN));
  assert.equal(missing.code, 'airlock:vault-secret-id-file');
  assert.match(missing.message, /does not exist/);
  assert.equal(x.logins(), before);
});

test('a sealed, down or hung Vault fails the job with the reason after one request, no retry storm', { skip: !isDouble && 'needs the double\'s switches' }, async (t) => {
  const x = await setup(t, { vault: { timeout: '500ms' } });
  const double = x.vault.double!;
  double.seal();
  let before = double.requests.length;
  const sealed = await rejects(x.provider.forApply(RUN));
  assert.equal(sealed.code, 'airlock:vault-sealed');
  assert.equal(double.requests.length - before, 1);
  double.unseal();

  double.hang = true;
  before = double.requests.length;
  assert.equal((await rejects(x.provider.forApply(RUN))).code, 'airlock:vault-unreachable');
  double.hang = false;

  await double.pause();
  const down = await rejects(x.provider.forApply(RUN));
  assert.equal(down.code, 'airlock:vault-unreachable');
  assert.match(down.message, /cannot reach Vault at http:\/\/127\.0\.0\.1:\d+ to log in for the apply identity of infra\/default: ECONNREFUSED/);
  await double.resume();
  assert.deepEqual(await x.s.liveTokens(), []);
});

test('Vault going down between issue and release: the failure to revoke is logged with the accessor and audited', { skip: !isDouble && 'needs the double\'s switches' }, async (t) => {
  const x = await setup(t);
  const creds = await x.provider.forApply(RUN);
  await x.vault.double!.pause();
  await creds.release();
  await x.vault.double!.resume();
  const failed = x.audit.find((r) => r.type === 'credentials.revoke_failed');
  assert.ok(failed, JSON.stringify(x.audit));
  const accessor = String(failed.detail?.['accessor']);
  assert.match(x.log.raw, new RegExp(`vault token revoke -accessor ${accessor}`));
  assert.equal((await x.s.liveTokens()).length, 1, 'still alive until its TTL: that is what the record is for');
  await x.vault.api('POST', 'auth/token/revoke-accessor', { accessor });
});

test('a token TTL shorter than the engine timeouts is warned about at issue time', async (t) => {
  const x = await setup(t, { tokenTtl: '5m' });
  const creds = await x.provider.forPlan(RUN);
  await creds.release();
  const warn = x.log.lines().find((l) => l['level'] === 40);
  assert.ok(warn, x.log.raw);
  assert.match(String(warn['msg']), /the plan token may expire before the plan ends .*5m is shorter than the 45m the engine may run/);
});
