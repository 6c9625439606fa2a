// The pure credential rules, one row per case: secret references, variable names, response shapes,
// TTLs, wrapping creation paths, and how Vault's answers become errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  envValue,
  formatSeconds,
  isSecretIdCreationPath,
  neededTtlMs,
  parseSecretRef,
  pathsToRead,
  secretEnvNameProblem,
  secretFields,
  ttlShortfall,
} from '../../src/credentials/credentials.ts';
import { classifyVaultFailure } from '../../src/credentials/errors.ts';

test('secret references are mount/path#key and nothing else', () => {
  const rows: Array<[string, { path: string; key: string } | null]> = [
    ['kv/data/proxmox#token', { path: 'kv/data/proxmox', key: 'token' }],
    ['secret/homelab/pve#api_token.secret', { path: 'secret/homelab/pve', key: 'api_token.secret' }],
    ['database/creds/airlock-apply#password', { path: 'database/creds/airlock-apply', key: 'password' }],
    ['kv#token', null], // a mount alone is not a secret
    ['kv/data/proxmox', null], // no key
    ['kv/data/proxmox#', null],
    ['#token', null],
    ['kv/data/a#b#c', null],
    ['kv/../sys/seal#x', null],
    ['/kv/data/x#y', null],
    ['kv//x#y', null],
    ['kv/data/x?list=true#y', null],
    ['kv/data/x y#z', null],
  ];
  for (const [text, want] of rows) assert.deepEqual(parseSecretRef(text), want, text);
});

test('secrets may land in provider variables and TF_VAR_*, never in names the engine adapter owns', () => {
  for (const ok of ['TF_VAR_pm_api_token', 'PM_API_TOKEN_SECRET', 'AWS_SECRET_ACCESS_KEY', 'VAULT_TOKEN', 'TF_TOKEN_app_terraform_io', '_x']) assert.equal(secretEnvNameProblem(ok), null, ok);
  for (const bad of ['HOME', 'PATH', 'TF_CLI_ARGS_apply', 'TF_LOG', 'TF_CLI_CONFIG_FILE', 'LD_PRELOAD', 'TF_DATA_DIR', 'TF_INPUT']) assert.match(secretEnvNameProblem(bad) ?? '', /reserves/, bad);
  for (const bad of ['1ABC', 'A-B', 'A B', '']) assert.match(secretEnvNameProblem(bad) ?? '', /environment variable name/, bad);
});

test('a dynamic secret read once serves every variable mapped from it (one lease)', () => {
  const paths = pathsToRead({
    DB_USER: { path: 'database/creds/app', key: 'username' },
    DB_PASS: { path: 'database/creds/app', key: 'password' },
    TF_VAR_x: { path: 'kv/data/a', key: 'x' },
  });
  assert.deepEqual(paths, ['database/creds/app', 'kv/data/a']);
});

test('KV v2, KV v1 and dynamic answers give up their fields', () => {
  assert.deepEqual(secretFields({ data: { data: { token: 't' }, metadata: { version: 3 } } }), { shape: 'kv2', fields: { token: 't' } });
  assert.deepEqual(secretFields({ data: { token: 't' }, lease_id: '' }), { shape: 'kv1-or-dynamic', fields: { token: 't' } });
  assert.deepEqual(secretFields({ data: { username: 'u', password: 'p' }, lease_id: 'database/creds/x/1' }), { shape: 'kv1-or-dynamic', fields: { username: 'u', password: 'p' } });
  // A KV v1 secret that happens to have a `data` key is not mistaken for v2 without v2 metadata.
  assert.deepEqual(secretFields({ data: { data: { a: 1 } } }), { shape: 'kv1-or-dynamic', fields: { data: { a: 1 } } });
  assert.equal(secretFields({ data: null }), null);
  assert.equal(secretFields(null), null);
  assert.equal(envValue('s'), 's');
  assert.equal(envValue(5432), '5432');
  assert.equal(envValue(true), 'true');
  assert.equal(envValue({ a: 1 }), null);
  assert.equal(envValue(null), null);
});

test('token TTLs must cover every engine step of the phase', () => {
  const timeouts = { init: 10 * 60_000, plan: 30 * 60_000, show: 5 * 60_000, apply: 60 * 60_000 };
  assert.equal(neededTtlMs('plan', timeouts), 45 * 60_000);
  assert.equal(neededTtlMs('apply', timeouts), 60 * 60_000);
  assert.equal(ttlShortfall(3600, 45 * 60_000), null);
  assert.equal(ttlShortfall(0, 45 * 60_000), null, 'no expiry');
  assert.equal(ttlShortfall(2700, 45 * 60_000), null, 'exactly enough');
  assert.equal(ttlShortfall(1200, 45 * 60_000), '20m is shorter than the 45m the engine may run');
  assert.equal(formatSeconds(5400), '1h30m');
  assert.equal(formatSeconds(90), '1m30s');
  assert.equal(formatSeconds(0), '0s');
});

test('only AppRole secret-id endpoints may have made a wrapped secret_id', () => {
  assert.equal(isSecretIdCreationPath('auth/approle/role/airlock-apply/secret-id', 'approle'), true);
  assert.equal(isSecretIdCreationPath('auth/lab-approle/role/a/secret-id', 'lab-approle'), true);
  assert.equal(isSecretIdCreationPath('auth/approle/role/a/secret-id', 'other'), false);
  assert.equal(isSecretIdCreationPath('sys/wrapping/wrap', 'approle'), false);
  assert.equal(isSecretIdCreationPath('auth/approle/role//secret-id', 'approle'), false);
  assert.equal(isSecretIdCreationPath('auth/approle/role/a/b/secret-id', 'approle'), false);
  assert.equal(isSecretIdCreationPath('auth/approle/role/a/secret-id-accessor/lookup', 'approle'), false);
});

test('Vault answers are classified by status, each with its own code and what to do', () => {
  const at = { address: 'https://vault:8200', identity: 'the apply identity of infra/default' };
  const rows: Array<[Parameters<typeof classifyVaultFailure>[0], Parameters<typeof classifyVaultFailure>[1]['op'], string, { retryable: boolean; alert: boolean }]> = [
    [{ status: 403, errors: ['permission denied'] }, 'read', 'airlock:vault-permission-denied', { retryable: false, alert: false }],
    [{ status: 400, errors: ['invalid role or secret ID'] }, 'login', 'airlock:vault-bad-login', { retryable: false, alert: false }],
    [{ status: 503, errors: ['Vault is sealed'] }, 'login', 'airlock:vault-sealed', { retryable: true, alert: false }],
    [{ status: 503, errors: ['Vault is sealed'] }, 'read', 'airlock:vault-sealed', { retryable: true, alert: false }],
    [{ status: 404, errors: [] }, 'read', 'airlock:vault-missing-path', { retryable: false, alert: false }],
    [{ status: 404, deletedVersion: 3 }, 'read', 'airlock:vault-missing-path', { retryable: false, alert: false }],
    [{ status: 400, errors: ['wrapping token is not valid or does not exist'] }, 'unwrap', 'airlock:vault-unwrap-failed', { retryable: false, alert: true }],
    [{ status: 400, errors: ['wrapping token is not valid or does not exist'] }, 'lookup-wrapping', 'airlock:vault-unwrap-failed', { retryable: false, alert: true }],
    [{ network: 'ECONNREFUSED' }, 'login', 'airlock:vault-unreachable', { retryable: true, alert: false }],
    [{ status: 500, errors: ['internal error'] }, 'read', 'airlock:vault-server-error', { retryable: true, alert: false }],
    [{ status: 429 }, 'read', 'airlock:vault-error', { retryable: false, alert: false }],
  ];
  for (const [failure, op, code, flags] of rows) {
    const err = classifyVaultFailure(failure, { ...at, op, path: 'kv/data/proxmox' });
    assert.equal(err.code, code, `${op} ${JSON.stringify(failure)}`);
    assert.equal(err.retryable, flags.retryable, code);
    assert.equal(err.alert, flags.alert, code);
    assert.ok(err.hint && err.hint.length > 20, `${code} says what to do next`);
    assert.match(err.message, /apply identity of infra\/default|vault:8200/, 'names who or where');
  }
  assert.match(classifyVaultFailure({ status: 404, deletedVersion: 3 }, { ...at, op: 'read', path: 'kv/data/p' }).message, /was deleted \(version 3\)/);
  assert.match(classifyVaultFailure({ status: 403, errors: ['permission denied'] }, { ...at, op: 'read', path: 'kv/data/p' }).message, /access to `kv\/data\/p`/);
  assert.match(classifyVaultFailure({ status: 400 }, { ...at, op: 'unwrap' }).message, /^ALERT: /);
});
