// The routes issue 11 closed, beyond the one-fixture-per-rule table: allowlists that let a construct through
// only as the runner config says, the variables the runner injects, the code init fetched, and the config
// keys that can never be set.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load.ts';
import { guardSchema } from '../../src/guard/config.ts';
import { guardFetchedModules, GuardRefusedError, inspectTree, type GuardOptions } from '../../src/guard/guard.ts';
import { guardOptionsFor } from '../../src/guard/options.ts';
import { treeMaker } from './tree-fixture.ts';
import { ALLOW } from './refused-fixtures.ts';

const tree = treeMaker('guard-routes');

const options = (config: object = ALLOW, extra: Partial<GuardOptions> = {}): GuardOptions => ({ config: guardSchema.parse(config), engineKind: 'terraform', workDir: '.', ...extra });
const rules = async (files: Record<string, string>, opts = options()) => (await inspectTree(await tree(files), opts)).refusals.map((v) => v.rule);

describe('terraform_remote_state reads only what the runner lists', () => {
  const s3 = (key: string) => `data "terraform_remote_state" "net" {\n  backend = "s3"\n  config = {\n    bucket = "lab-state"\n    key    = "${key}"\n    region = "eu-west-1"\n  }\n}\n`;

  it('with no allowlist it is refused', async () => {
    assert.deepEqual(await rules({ 'main.tf': s3('net/terraform.tfstate') }, options({})), ['remote-state']);
  });

  it('a listed backend with literal, matching config passes; any other key or value is refused', async () => {
    assert.deepEqual(await rules({ 'main.tf': s3('net/terraform.tfstate') }), []);
    assert.deepEqual(await rules({ 'main.tf': s3('prod/terraform.tfstate') }), ['remote-state']);
    assert.deepEqual(await rules({ 'main.tf': s3('net/x').replace('region', 'endpoint = "https://evil.example"\n    region') }), ['remote-state']);
    assert.deepEqual(await rules({ 'main.tf': s3('net/x').replace('backend = "s3"', 'backend = "s3"\n  workspace = "prod"') }), ['remote-state']);
  });
});

describe('variables the runner injects', () => {
  it('terraform.tfvars(.json) and *.auto.tfvars may not set them; other variables are fine', async () => {
    const opts = options(ALLOW, { injectedVariables: ['token', 'region'] });
    assert.deepEqual(await rules({ 'main.tf': '', 'terraform.tfvars.json': '{"region": "x", "size": 2}' }, opts), ['injected-variable']);
    assert.deepEqual(await rules({ 'main.tf': '', 'a.auto.tfvars': 'size = 2\n' }, opts), []);
    assert.deepEqual(await rules({ 'main.tf': '', 'terraform.tfvars': 'token = "x"\n' }, opts), ['injected-variable']);
    assert.deepEqual(await rules({ 'main.tf': '', 'terraform.tfvars': 'token = \n' }, opts), ['parse-error']);
    // only the root module's files are read by the engine
    assert.deepEqual(await rules({ 'main.tf': '', 'other/terraform.tfvars': 'token = "x"\n' }, opts), []);
  });

  it('a variable the apply identity supplies must be declared ephemeral in the root module', async () => {
    const opts = options(ALLOW, { applyTimeVariables: ['pm_token'] });
    assert.deepEqual(await rules({ 'main.tf': 'variable "pm_token" {\n  type = string\n}\n' }, opts), ['apply-variable-not-ephemeral']);
    assert.deepEqual(await rules({ 'main.tf': '' }, opts), ['apply-variable-not-ephemeral']);
    assert.deepEqual(await rules({ 'main.tf': 'variable "pm_token" {\n  type      = string\n  ephemeral = true\n}\n' }, opts), []);
  });

  it('the guard options name what engine.env, the plan identity and the apply identity inject', () => {
    const config = parseConfigText(
      `engine:\n  env: { TF_VAR_region: eu, OTHER: x }\nvault:\n  address: https://v.lab:8200\nrepos:\n  - name: infra\n    url: file:///srv/x.git\n    workspaces:\n      - name: pm\n        dir: envs/pm\n        credentials:\n          plan: { roleId: p, secretIdFile: /etc/p, secrets: { TF_VAR_token: "kv/data/r#t" } }\n          apply: { roleId: a, secretIdFile: /etc/a, ephemeral: { token_w: "kv/data/w#t" } }\n`,
      'runners/x.yaml',
    );
    const opts = guardOptionsFor(config, { repo: 'infra', workspace: 'pm' });
    assert.deepEqual(opts.injectedVariables, ['region', 'token', 'token_w']);
    assert.deepEqual(opts.applyTimeVariables, ['token_w']);
    assert.equal(opts.workDir, 'envs/pm');
  });
});

describe('fetched modules, after init', () => {
  const manifest = (dirsList: string[]) => JSON.stringify({ Modules: [{ Key: '', Source: '', Dir: '.' }, ...dirsList.map((d, i) => ({ Key: `m${i}`, Source: 'git::https://git.example/infra/x.git', Dir: d }))] });

  it('are checked with the same rules, named by their path under .terraform/modules', async () => {
    const root = await tree({
      'ws/main.tf': 'module "m0" {\n  source = "git::https://git.example/infra/x.git?ref=' + 'a'.repeat(40) + '"\n}\n',
      'ws/.terraform/modules/modules.json': manifest(['.terraform/modules/m0']),
      'ws/.terraform/modules/m0/main.tf': 'data "external" "x" {\n  program = ["id"]\n}\n',
      'ws/.terraform/modules/m0/examples/unused.tf': 'data "external" "y" {\n  program = ["id"]\n}\n',
    });
    const err = await guardFetchedModules(root, options(ALLOW, { workDir: 'ws' })).catch((e: unknown) => e);
    assert.ok(err instanceof GuardRefusedError, String(err));
    const found = err.violations.map((v) => [v.rule, v.file]);
    assert.deepEqual(found, [['external-data', 'ws/.terraform/modules/m0/main.tf'], ['provider-not-allowed', 'ws/.terraform/modules/m0/main.tf']], 'only what init loads; the repository was checked before');
  });

  it('see the whole configuration: a module constraint inside the root one passes', async () => {
    const root = await tree({
      'main.tf': 'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", version = "~> 5.30" }\n  }\n}\n',
      '.terraform/modules/modules.json': manifest(['.terraform/modules/m0']),
      '.terraform/modules/m0/main.tf': 'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", version = ">= 4.0" }\n  }\n}\nresource "aws_instance" "i" {}\n',
    });
    assert.deepEqual(await guardFetchedModules(root, options()), { warnings: [] });
  });

  it('no modules.json: nothing was fetched; an unreadable one is refused', async () => {
    assert.deepEqual(await guardFetchedModules(await tree({ 'main.tf': '' }), options()), { warnings: [] });
    const bad = await tree({ 'main.tf': '', '.terraform/modules/modules.json': '{' });
    await assert.rejects(guardFetchedModules(bad, options()), (e: unknown) => e instanceof GuardRefusedError && e.violations[0]!.rule === 'parse-error');
  });

  it('lenient mode carries a fetched module\'s file read as a warning', async () => {
    const root = await tree({
      '.terraform/modules/modules.json': manifest(['.terraform/modules/m0']),
      '.terraform/modules/m0/main.tf': 'locals {\n  x = file("/etc/hostname")\n}\n',
    });
    const result = await guardFetchedModules(root, options({ mode: 'lenient' }));
    assert.deepEqual(result.warnings.map((w) => [w.rule, w.file]), [['file-function', '.terraform/modules/m0/main.tf']]);
  });
});

describe('what the runner config refuses', () => {
  const load = (yaml: string) => {
    try {
      parseConfigText(yaml, 'runners/x.yaml');
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };

  it('a provider argument that runs programs or reads host files cannot be allowed', () => {
    for (const name of ['exec', 'config_path', 'profile', 'shared_credentials_files', 'web_identity_token_file', 'credentials']) {
      assert.match(load(`guard:\n  providers:\n    - { source: hashicorp/aws, arguments: [region, ${name}] }\n`), /`guard\.providers\[0\]\.arguments\[1\]`[^`]*cannot be allowed: it (runs|selects|names|takes)/, name);
    }
    assert.equal(load('guard:\n  providers:\n    - { source: hashicorp/aws, arguments: [region, assume_role] }\n'), '');
  });

  it('terraform_remote_state may never be allowed a local backend', () => {
    assert.match(load('guard:\n  remoteState:\n    - { backend: local, config: { path: "*" } }\n'), /must not be "local"/);
  });

  it('a backend credential in the runner config is refused: it would land in a file the plan can read', () => {
    const text = load('backend:\n  type: s3\n  config: { bucket: b, key: k, secret_key: abc }\n');
    assert.match(text, /`backend\.config\.secret_key` must not hold a credential/);
    assert.match(text, /through its environment/);
    assert.equal(load('backend:\n  type: s3\n  config: { bucket: b, key: k, region: eu-west-1 }\n'), '');
  });
});

describe('templatestring', () => {
  it('a literal template that calls nothing risky passes', async () => {
    assert.deepEqual(await rules({ 'main.tf': 'output "o" {\n  value = templatestring("hello $${name}", { name = "x" })\n}\n' }), []);
  });
});
