// The whole loop with Vault identities: what the engine child actually receives in each phase (the
// double dumps its environment), and a canary secret that the engine prints and that ends up inside
// errors, searched for in every byte the runner leaves behind.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { pushCommit } from '../git-fixtures.ts';
import { TF_TWO } from '../e2e/loop-fixture.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { waitForState } from '../support/harness.ts';
import { everyCapturedByte, setupVaultLoop } from './vault-loop.ts';

const isDouble = engineForTests().isDouble;
const BASE_KEYS = ['PATH', 'HOME', 'TF_IN_AUTOMATION', 'TF_INPUT', 'TF_CLI_CONFIG_FILE', 'CHECKPOINT_DISABLE', 'LANG'];

async function readDumps(dir: string): Promise<Array<{ command: string; env: Record<string, string> }>> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json'));
  return Promise.all(names.map(async (n) => ({ command: n.split('-')[0]!, env: JSON.parse(await readFile(path.join(dir, n), 'utf8')) as Record<string, string> })));
}

/** Put a canary and a fake Vault token in the runner's own environment for the duration of a test. */
function plantRunnerEnv(t: { after(fn: () => void): void }, vaultToken: string): string {
  const canary = `runner-env-canary-${randomBytes(8).toString('hex')}`;
  const saved = { c: process.env['AIRLOCK_RUNNER_CANARY'], v: process.env['VAULT_TOKEN'] };
  process.env['AIRLOCK_RUNNER_CANARY'] = canary;
  process.env['VAULT_TOKEN'] = vaultToken;
  t.after(() => {
    if (saved.c === undefined) delete process.env['AIRLOCK_RUNNER_CANARY'];
    else process.env['AIRLOCK_RUNNER_CANARY'] = saved.c;
    if (saved.v === undefined) delete process.env['VAULT_TOKEN'];
    else process.env['VAULT_TOKEN'] = saved.v;
  });
  return canary;
}

test('plan gets only the plan identity\'s secrets, apply only the apply identity\'s; no token, secret id or runner env in either', { skip: !isDouble && 'reads the engine double\'s environment dumps' }, async (t) => {
  const x = await setupVaultLoop(t);
  const runnerCanary = plantRunnerEnv(t, x.vault.rootToken);
  const { loop, s } = x;
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  await waitForState(loop.runner, id, ['awaiting_approval']);
  const planDumps = await readDumps(loop.envDumpDir);
  assert.equal((await loop.cli('approve', id, '--yes')).code, 0);
  const applied = await waitForState(loop.runner, id, ['applied', 'failed', 'needs_attention']);
  assert.equal(applied.state, 'applied', JSON.stringify(applied.error));
  const applyDumps = (await readDumps(loop.envDumpDir)).filter((d) => d.command === 'apply');

  const engineEnvKeys = Object.keys(loop.loaded.config.engine.env);
  const extra = (env: Record<string, string>) => Object.fromEntries(Object.entries(env).filter(([k]) => !BASE_KEYS.includes(k) && !engineEnvKeys.includes(k)));
  const secretIds = [await readFile(x.files.plan, 'utf8'), await readFile(x.files.apply, 'utf8')].map((v) => v.trim());
  const tokens = x.vault.double?.allTokenIds() ?? [x.vault.rootToken];
  const applyValues = [s.values.applyToken, s.values.canary, s.values.kv1Password];

  const phases = planDumps.map((d) => d.command).sort();
  assert.deepEqual([...new Set(phases)], ['init', 'plan', 'show', 'version'].filter((c) => phases.includes(c)));
  assert.ok(['init', 'plan', 'show'].every((c) => phases.includes(c)), phases.join(','));
  for (const dump of planDumps) {
    const values = Object.values(dump.env).join('\n');
    if (dump.command === 'version') assert.deepEqual(extra(dump.env), {}, 'version runs with no secrets');
    else assert.deepEqual(extra(dump.env), { PM_API_TOKEN_SECRET: s.values.planToken, PM_API_TOKEN_ID: 'airlock@pve!plan' }, `${dump.command}: exactly the plan mapping`);
    for (const v of applyValues) assert.ok(!values.includes(v), `${dump.command}: no apply secret`);
    for (const v of [...secretIds, ...tokens, runnerCanary]) assert.ok(!values.includes(v), `${dump.command}: no token, secret id or runner env`);
    assert.ok(!('VAULT_TOKEN' in dump.env) && !('AIRLOCK_RUNNER_CANARY' in dump.env));
  }

  assert.equal(applyDumps.length, 1);
  const applyEnv = extra(applyDumps[0]!.env);
  assert.deepEqual(Object.keys(applyEnv).sort(), Object.keys(x.applySecrets).sort(), 'exactly the apply mapping');
  assert.equal(applyEnv['PM_API_TOKEN_SECRET'], s.values.applyToken);
  assert.equal(applyEnv['APPLY_CANARY'], s.values.canary);
  assert.equal(applyEnv['PGPASSWORD'], s.values.kv1Password);
  const applyText = Object.values(applyDumps[0]!.env).join('\n');
  for (const v of [s.values.planToken, ...secretIds, ...tokens, runnerCanary]) assert.ok(!applyText.includes(v), 'no plan secret, token, secret id or runner env in apply');

  assert.deepEqual(await s.liveTokens(), []);
  assert.deepEqual(await s.liveLeases(), []);
  const records = await readAuditRecords(loop.runner.cp.paths.auditDir, { run: id });
  assert.deepEqual(
    records.filter((r) => r.type.startsWith('credentials.')).map((r) => `${r.type}:${r.detail?.['phase']}`),
    ['credentials.issued:plan', 'credentials.revoked:plan', 'credentials.issued:apply', 'credentials.revoked:apply'],
  );
});

test('a canary the engine prints and that travels inside errors appears in no log, audit record, run record, CLI output or file', { skip: !isDouble && 'needs the engine double to print and fail' }, async (t) => {
  const x = await setupVaultLoop(t, { engineEnv: { AIRLOCK_DOUBLE_PRINT_ENV: 'APPLY_CANARY,PM_API_TOKEN_SECRET,PGPASSWORD', AIRLOCK_DOUBLE_FAIL: 'apply' } });
  plantRunnerEnv(t, x.vault.rootToken);
  const { loop, s } = x;

  // PR 1: the apply prints the canary and fails, so the canary is in the engine's error output.
  const sha1 = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const id1 = loop.runId(sha1);
  await waitForState(loop.runner, id1, ['awaiting_approval']);
  assert.equal((await loop.cli('approve', id1, '--yes')).code, 0);
  const failed = await waitForState(loop.runner, id1, ['applied', 'failed', 'needs_attention']);
  assert.equal(failed.state, 'failed');
  assert.equal(failed.error?.code, 'airlock:engine-failed');
  assert.match(failed.error?.tail ?? '', /APPLY_CANARY=\[scrubbed\]/, 'the engine did print it; the record holds it scrubbed');

  // PR 2: Vault echoes the (used-up) secret id into its login error, so the secret id is inside an error.
  let secretId = '';
  if (x.vault.double) {
    x.vault.double.echoSecretIdInLoginErrors = true;
    secretId = await s.issueSecretId('apply', { numUses: 1 });
    const burn = await x.vault.api('POST', 'auth/approle/login', { role_id: s.apply.roleId, secret_id: secretId });
    await x.vault.api('POST', 'auth/token/revoke-self', undefined, { 'X-Vault-Token': burn.body.auth.client_token });
    const { writeFile } = await import('node:fs/promises');
    await writeFile(x.files.apply, secretId, { mode: 0o600 });
  }
  const sha2 = await pushCommit(loop.remote, { 'main.tf': TF_TWO.replace('"one"', '"uno"') }, { refs: ['refs/pull/2/head'] });
  await loop.runner.watcher.pollAll();
  const id2 = loop.runId(sha2);
  await waitForState(loop.runner, id2, ['awaiting_approval']);
  assert.equal((await loop.cli('approve', id2, '--yes')).code, 0);
  const refused = await waitForState(loop.runner, id2, ['applied', 'failed', 'needs_attention']);
  if (x.vault.double) {
    assert.equal(refused.error?.code, 'airlock:vault-bad-login');
    assert.match(refused.error?.message ?? '', /secret_id \[scrubbed\]/, 'Vault did echo it; the record holds it scrubbed');
  }

  const cliOut: string[] = [];
  for (const args of [['runs', '--json'], ['runs'], ['show', id1], ['show', id1, '--json'], ['show', id2], ['show', id2, '--json']]) {
    const r = await loop.cli(...args);
    cliOut.push(r.out, r.err);
  }
  assert.match(cliOut.join('\n'), /airlock:engine-failed/);

  const secrets = [s.values.canary, s.values.applyToken, s.values.planToken, s.values.kv1Password, (await readFile(x.files.plan, 'utf8')).trim(), ...(secretId ? [secretId] : []), ...(x.vault.double?.allTokenIds() ?? [])];
  const everywhere = [...(await everyCapturedByte(loop)), { where: 'cli', text: cliOut.join('\n') }];
  assert.ok(everywhere.some((b) => b.where.includes('audit')), 'the audit files were searched');
  assert.ok(everywhere.some((b) => b.where.startsWith('redis')), 'Redis was searched');
  assert.match(loop.log.raw, /\[scrubbed\]/, 'the engine line reached the log, scrubbed');
  for (const { where, text } of everywhere) {
    for (const secret of secrets) assert.ok(!text.includes(secret), `a secret (${secret.slice(0, 6)}…) leaked into ${where}`);
    assert.ok(!text.includes(Buffer.from(s.values.canary).toString('base64')), `base64 canary in ${where}`);
  }
  assert.deepEqual(await s.liveTokens(), []);
});
