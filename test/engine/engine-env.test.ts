// The child environment is built from an allowlist; nothing from the runner's environment leaks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildEngineArgs, buildEngineEnv, formatLockTimeout, interpretPlanExit, parseVersionOutput, type EngineSpec } from '../../src/engine/engine.ts';
import { hasCode } from '../../src/errors.ts';

const SPEC: EngineSpec = {
  kind: 'terraform',
  binary: '/usr/local/bin/terraform',
  path: '/usr/local/bin:/usr/bin:/bin',
  env: {},
  timeouts: { init: 1, plan: 1, show: 1, apply: 1, version: 1 },
  lockTimeoutMs: 30_000,
  sandbox: null,
};
const HOME = '/jobs/j1/home';

test('the child environment is exactly the allowlist, nothing from process.env', () => {
  process.env['AIRLOCK_CANARY_SECRET'] = 'runner-vault-token-canary';
  process.env['TF_VAR_canary'] = 'from-runner-env';
  try {
    const env = buildEngineEnv(SPEC, { homeDir: HOME });
    assert.deepEqual(env, {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME,
      TF_IN_AUTOMATION: '1',
      TF_INPUT: '0',
      TF_CLI_CONFIG_FILE: '/jobs/j1/home/airlock-cli-config.tfrc',
      CHECKPOINT_DISABLE: '1',
      LANG: 'C.UTF-8',
    });
    assert.ok(!Object.values(env).includes('runner-vault-token-canary'));
  } finally {
    delete process.env['AIRLOCK_CANARY_SECRET'];
    delete process.env['TF_VAR_canary'];
  }
});

test('spec.env comes after the base and secrets come last', () => {
  const env = buildEngineEnv(
    { ...SPEC, env: { TF_VAR_region: 'eu-west-1', HTTPS_PROXY: 'http://proxy:3128', TF_VAR_shared: 'host' } },
    { homeDir: HOME, secrets: { TF_VAR_token: 's3cr3t-value', TF_VAR_shared: 'secret-wins' } },
  );
  assert.equal(env['TF_VAR_region'], 'eu-west-1');
  assert.equal(env['HTTPS_PROXY'], 'http://proxy:3128');
  assert.equal(env['TF_VAR_token'], 's3cr3t-value');
  assert.equal(env['TF_VAR_shared'], 'secret-wins');
  assert.deepEqual(Object.keys(env).slice(-3), ['HTTPS_PROXY', 'TF_VAR_shared', 'TF_VAR_token']);
});

const DENIED = [
  'TF_CLI_ARGS',
  'TF_CLI_ARGS_plan',
  'TF_CLI_ARGS_apply',
  'TF_CLI_CONFIG_FILE',
  'TERRAFORM_CONFIG',
  'TF_DATA_DIR',
  'TF_WORKSPACE',
  'TF_PLUGIN_CACHE_DIR',
  'TF_REATTACH_PROVIDERS',
  'TF_LOG',
  'TF_LOG_PATH',
  'TF_LOG_PROVIDER',
  'TF_INPUT',
  'TF_IN_AUTOMATION',
  'CHECKPOINT_DISABLE',
  'PATH',
  'HOME',
  'LD_PRELOAD',
  'LD_LIBRARY_PATH',
  'tf_cli_args',
  '',
  'A=B',
];

for (const key of DENIED) {
  for (const where of ['engine.env', 'secrets'] as const) {
    test(`${JSON.stringify(key)} is refused in ${where}`, () => {
      const value = 'value-that-must-not-be-echoed';
      const run = () =>
        where === 'engine.env'
          ? buildEngineEnv({ ...SPEC, env: { [key]: value } }, { homeDir: HOME })
          : buildEngineEnv(SPEC, { homeDir: HOME, secrets: { [key]: value } });
      assert.throws(run, (err: Error) => {
        assert.ok(hasCode(err, 'airlock:engine-env'), `code of ${err.message}`);
        assert.ok(err.message.includes(where), err.message);
        if (key !== '') assert.ok(err.message.includes(`\`${key}\``), err.message);
        assert.ok(!err.message.includes(value), 'the value is never echoed');
        return true;
      });
    });
  }
}

test('ordinary variables are allowed', () => {
  const env = buildEngineEnv(
    { ...SPEC, env: { TF_VAR_x: '1', TF_TOKEN_app_terraform_io: 't', SSL_CERT_FILE: '/etc/ca.pem', TF_REGISTRY_CLIENT_TIMEOUT: '30' } },
    { homeDir: HOME, secrets: { AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 'shh' } },
  );
  assert.equal(env['AWS_SECRET_ACCESS_KEY'], 'shh');
  assert.equal(env['TF_TOKEN_app_terraform_io'], 't');
});

test('a NUL byte in a value is refused without echoing it', () => {
  assert.throws(() => buildEngineEnv(SPEC, { homeDir: HOME, secrets: { TF_VAR_x: 'a\0b' } }), (err: Error) => hasCode(err, 'airlock:engine-env') && !err.message.includes('a\0b'));
});

test('command lines: arrays, -no-color everywhere, the plan file after every flag', () => {
  assert.deepEqual(buildEngineArgs('version', SPEC), ['version', '-json']);
  assert.deepEqual(buildEngineArgs('init', SPEC), ['init', '-input=false', '-no-color']);
  assert.deepEqual(buildEngineArgs('plan', SPEC, '/j/plan.tfplan'), ['plan', '-input=false', '-no-color', '-detailed-exitcode', '-lock-timeout=30s', '-out=/j/plan.tfplan']);
  assert.deepEqual(buildEngineArgs('show', SPEC, '/j/plan.tfplan'), ['show', '-json', '-no-color', '/j/plan.tfplan']);
  assert.deepEqual(buildEngineArgs('apply', SPEC, '/j/plan.tfplan'), ['apply', '-input=false', '-no-color', '-lock-timeout=30s', '/j/plan.tfplan']);
});

test('lock timeouts round up to whole seconds', () => {
  assert.equal(formatLockTimeout(0), '0s');
  assert.equal(formatLockTimeout(1), '1s');
  assert.equal(formatLockTimeout(30_000), '30s');
  assert.equal(formatLockTimeout(90_500), '91s');
});

test('plan exit codes', () => {
  assert.deepEqual(interpretPlanExit(0), { changes: false });
  assert.deepEqual(interpretPlanExit(2), { changes: true });
  assert.equal(interpretPlanExit(1), null);
  assert.equal(interpretPlanExit(3), null);
});

test('version -json parsing', () => {
  const raw = '{"terraform_version":"1.8.2","platform":"linux_amd64","provider_selections":{}}';
  assert.equal(parseVersionOutput(raw)?.version, '1.8.2');
  assert.equal(parseVersionOutput('Terraform v1.8.2'), null);
  assert.equal(parseVersionOutput('{"version":"1"}'), null);
});
