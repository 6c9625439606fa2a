// The `vault` section and per-workspace `credentials` as an operator writes them: what is accepted, and
// errors that name the key, the rule and the bad value.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfigText } from '../../src/config/load.ts';
import { assertVaultConfigured } from '../../src/credentials/provider.ts';

function configWith(credentials: string, vault = 'vault:\n  address: https://vault.lab.internal:8200\n'): string {
  return `${vault}repos:
  - name: infra
    url: file:///srv/git/infra.git
    workspaces:
      - name: proxmox
        credentials:
${credentials
  .split('\n')
  .map((l) => `          ${l}`)
  .join('\n')}
`;
}

function problems(text: string): string {
  try {
    parseConfigText(text, 'runners/home.yaml');
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

const GOOD = `plan:
  roleId: 6a1c0f0e-plan
  secretIdFile: /etc/airlock/proxmox-plan.secret-id
  secrets:
    PM_API_TOKEN_ID: kv/data/proxmox-read#id
    PM_API_TOKEN_SECRET: kv/data/proxmox-read#secret
apply:
  roleId: 93be11aa-apply
  secretIdFile: /etc/airlock/proxmox-apply.secret-id
  wrapped: true
  secrets:
    PM_API_TOKEN_ID: kv/data/proxmox#id
    PM_API_TOKEN_SECRET: kv/data/proxmox#secret
    PGPASSWORD: database/creds/airlock#password`;

test('a workspace maps each phase to its own AppRole identity and secrets', () => {
  const cfg = parseConfigText(configWith(GOOD), 'runners/home.yaml');
  assert.deepEqual(cfg.vault, { address: 'https://vault.lab.internal:8200', timeout: 10_000 });
  const creds = cfg.repos[0]!.workspaces[0]!.credentials;
  assert.notEqual(creds, 'none');
  if (creds === 'none' || creds.plan === 'none' || creds.apply === 'none') throw new Error('unreachable');
  assert.equal(creds.plan.wrapped, false);
  assert.equal(creds.plan.mount, 'approle');
  assert.equal(creds.apply.wrapped, true);
  assert.deepEqual(creds.apply.secrets['PGPASSWORD'], { path: 'database/creds/airlock', key: 'password' });
  assert.deepEqual(creds.plan.secrets['PM_API_TOKEN_SECRET'], { path: 'kv/data/proxmox-read', key: 'secret' });
});

test('`credentials: none` and a phase set to `none` are allowed; no vault section is needed for none', () => {
  const none = parseConfigText(configWith('none', ''), 'f.yaml');
  assert.equal(none.repos[0]!.workspaces[0]!.credentials, 'none');
  assert.equal(none.vault, undefined);
  const applyOnly = parseConfigText(configWith('plan: none\napply:\n  roleId: r-apply\n  secretIdFile: /etc/a\n  secrets: { T_TOKEN: "kv/data/t#t" }'), 'f.yaml');
  const c = applyOnly.repos[0]!.workspaces[0]!.credentials;
  assert.ok(c !== 'none' && c.plan === 'none' && c.apply !== 'none');
  // Omitting `credentials` means none.
  const omitted = parseConfigText('repos:\n  - name: infra\n    url: file:///srv/x.git\n', 'f.yaml');
  assert.equal(omitted.repos[0]!.workspaces[0]!.credentials, 'none');
});

test('a workspace using identities without a vault section is refused at start, naming the key', () => {
  const cfg = parseConfigText(configWith(GOOD, ''), 'runners/home.yaml');
  assert.throws(() => assertVaultConfigured(cfg), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'airlock:vault-not-configured');
    assert.match(err.message, /`repos\[0\]\.workspaces\[0\]\.credentials` uses Vault identities, but the runner config has no `vault\.address`/);
    return true;
  });
  assert.doesNotThrow(() => assertVaultConfigured(parseConfigText(configWith('none', ''), 'f.yaml')));
});

test('the plan identity can never be the apply identity, nor read what the apply identity reads', () => {
  const text = problems(
    configWith(`plan:
  roleId: same
  secretIdFile: /etc/airlock/one
  secrets: { PM_API_TOKEN_SECRET: "kv/data/proxmox#secret" }
apply:
  roleId: same
  secretIdFile: /etc/airlock/one
  secrets: { PM_API_TOKEN_SECRET: "kv/data/proxmox#secret" }`),
  );
  assert.match(text, /`repos\[0\]\.workspaces\[0\]\.credentials\.plan\.roleId` must differ from `apply\.roleId`: the plan phase runs the pull request's code/);
  assert.match(text, /`repos\[0\]\.workspaces\[0\]\.credentials\.plan\.secretIdFile` must differ from `apply\.secretIdFile`/);
  assert.match(text, /`repos\[0\]\.workspaces\[0\]\.credentials\.plan\.secrets\.PM_API_TOKEN_SECRET` must not read `kv\/data\/proxmox`, which the apply identity reads/);
});

test('bad variable names, secret references and paths are named precisely', () => {
  const text = problems(
    configWith(`plan: none
apply:
  roleId: r-apply
  secretIdFile: etc/relative
  secrets:
    HOME: "kv/data/x#home"
    TF_CLI_ARGS_apply: "kv/data/x#args"
    "not-a-name": "kv/data/x#y"
    TF_VAR_ok: "kv/data/x"`),
  );
  assert.match(text, /`repos\[0\]\.workspaces\[0\]\.credentials\.apply\.secretIdFile` must be an absolute file path without "\.\.", got `"etc\/relative"`/);
  assert.match(text, /`[^`]*apply\.secrets\.HOME` must not be a variable the engine adapter reserves \(HOME is a private directory per job\)/);
  assert.match(text, /`[^`]*apply\.secrets\.TF_CLI_ARGS_apply` must not be a variable the engine adapter reserves \(it injects flags into engine commands\)/);
  assert.match(text, /`[^`]*apply\.secrets\.not-a-name` must be an environment variable name like TF_VAR_pm_api_token/);
  assert.match(text, /`[^`]*apply\.secrets\.TF_VAR_ok` must be "mount\/path#key", like "kv\/data\/proxmox#token" \(KV v2 paths keep the data\/ segment\), got `"kv\/data\/x"`/);
});

test('typos inside an identity are reported at the key, not as "invalid input" on the section', () => {
  assert.match(problems(configWith('plan: nope\napply: none')), /`repos\[0\]\.workspaces\[0\]\.credentials\.plan` must be `none` or a mapping, got `"nope"`/);
  assert.match(problems(configWith('sometimes')), /`repos\[0\]\.workspaces\[0\]\.credentials` must be `none` or a mapping, got `"sometimes"`/);
  assert.match(problems(configWith('plan: none\napply: { roleId: r, secretIdFile: /etc/a, secret: {} }')), /unknown key `secret` in `repos\[0\]\.workspaces\[0\]\.credentials\.apply`/);
  assert.match(problems(configWith('plan: none\napply: { secretIdFile: /etc/a }')), /`repos\[0\]\.workspaces\[0\]\.credentials\.apply\.roleId` is required/);
});

test('the vault section: an http(s) address without a path, an absolute CA file, a duration timeout', () => {
  assert.match(problems(configWith('none', 'vault:\n  address: vault.lab:8200\n')), /`vault\.address` must be an http\(s\):\/\/ URL with no path, like "https:\/\/vault\.lab\.internal:8200", got `"vault\.lab:8200"`/);
  assert.match(problems(configWith('none', 'vault:\n  address: https://v:8200/v1/\n')), /`vault\.address` must be an http\(s\):\/\/ URL with no path/);
  assert.match(problems(configWith('none', 'vault:\n  address: https://v:8200\n  caFile: ca.pem\n')), /`vault\.caFile` must be an absolute file path/);
  assert.match(problems(configWith('none', 'vault:\n  address: https://v:8200\n  timeout: soon\n')), /`vault\.timeout` must be a duration like "10s", got `"soon"`/);
  assert.match(problems(configWith('none', 'vault:\n  address: https://v:8200\n  token: s.abc\n')), /unknown key `token` in `vault`/);
  const ok = parseConfigText(configWith('none', 'vault:\n  address: https://v:8200\n  namespace: ops/lab\n  caFile: /etc/airlock/ca.pem\n  timeout: 3s\n'), 'f.yaml');
  assert.deepEqual(ok.vault, { address: 'https://v:8200', namespace: 'ops/lab', caFile: '/etc/airlock/ca.pem', timeout: 3000 });
});

test('the apply identity may not map TF_VAR_*: the error says why and what to do instead', () => {
  const text = problems(configWith(GOOD.replace('PGPASSWORD:', 'TF_VAR_db_password:')));
  assert.match(text, /`[^`]*apply\.secrets\.TF_VAR_db_password` must not be a TF_VAR_\* variable: `apply PLANFILE` uses the variable values saved in the plan/);
  assert.match(text, /its own environment variable/);
  assert.match(text, /`ephemeral = true`[^`]*`apply\.ephemeral`/);
  // the plan identity may: its TF_VAR_* values are what the saved plan keeps
  assert.equal(problems(configWith(GOOD.replace('PM_API_TOKEN_ID: kv/data/proxmox-read#id', 'TF_VAR_x: kv/data/proxmox-read#id'))), '');
});

test('an ephemeral variable of the apply identity reaches the apply as TF_VAR_<name>; the plan identity has none', () => {
  const cfg = parseConfigText(configWith(`${GOOD}\n  ephemeral:\n    pm_api_token: kv/data/proxmox#token`), 'runners/home.yaml');
  const creds = cfg.repos[0]!.workspaces[0]!.credentials;
  if (creds === 'none' || creds.apply === 'none') throw new Error('unreachable');
  assert.deepEqual(creds.apply.secrets['TF_VAR_pm_api_token'], { path: 'kv/data/proxmox', key: 'token' });
  assert.deepEqual(Object.keys(creds.apply.ephemeral), ['pm_api_token']);
  const planSide = problems(configWith(GOOD.replace('plan:\n  roleId: 6a1c0f0e-plan', 'plan:\n  ephemeral: { x: "kv/data/a#b" }\n  roleId: 6a1c0f0e-plan')));
  assert.match(planSide, /`[^`]*plan\.ephemeral`[^`]*is for the apply identity only/);
});
