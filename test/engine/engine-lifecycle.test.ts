// init → plan → show -json → apply against a real engine process (the double, or real terraform with
// AIRLOCK_TEST_ENGINE), checking exit-code meaning, actions, file modes and the environment.
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { test } from 'node:test';
import { createEngine } from '../../src/engine/engine.ts';
import { isDouble, makeJob, needsDouble, readJson, specForTests, type Job } from './engine-under-test.ts';

const mode = async (file: string) => (await stat(file)).mode & 0o777;

interface Change {
  address: string;
  index?: number | string;
  change: { actions: string[]; before: any; after: any };
}

async function planAndShow(job: Job, engine = createEngine(specForTests()), name = 'plan') {
  const outcome = await engine.plan(job.call, job.at(`${name}.tfplan`));
  await engine.showJson(job.call, job.at(`${name}.tfplan`), job.at(`${name}.json`));
  const doc = await readJson(job.at(`${name}.json`));
  const actions = Object.fromEntries(((doc.resource_changes ?? []) as Change[]).map((c) => [c.address, c.change.actions.join(',')]));
  return { outcome, doc, actions, planFile: job.at(`${name}.tfplan`) };
}

test('version reports the engine and its version', async () => {
  const v = await createEngine(specForTests()).version();
  assert.equal(v.kind, 'terraform');
  assert.match(v.version, /^\d+\.\d+\.\d+/);
  if (isDouble) assert.match(v.version, /airlock-double/);
  assert.equal((v.raw as { terraform_version: string }).terraform_version, v.version);
});

test('create → apply → no changes, with 0600 plan, JSON and log files', async (t) => {
  const job = await makeJob(t, 'resource "terraform_data" "a" {\n  input = "hello"\n}\n');
  const engine = createEngine(specForTests());
  const lines: string[] = [];
  const call = { ...job.call, logFile: job.at('engine.log'), onLine: (l: string) => lines.push(l) };

  await engine.init(call);
  const first = await engine.plan(call, job.at('first.tfplan'));
  assert.equal(first.changes, true);
  assert.equal(await mode(job.at('first.tfplan')), 0o600);
  assert.ok(lines.includes('Plan: 1 to add, 0 to change, 0 to destroy.'), lines.join('\n'));

  await engine.showJson(call, job.at('first.tfplan'), job.at('first.json'));
  assert.equal(await mode(job.at('first.json')), 0o600);
  const doc = await readJson(job.at('first.json'));
  assert.equal(doc.format_version, '1.2');
  assert.equal(doc.errored, false);
  assert.equal(doc.prior_state, undefined, 'no state yet');
  assert.deepEqual(doc.resource_changes, [
    {
      address: 'terraform_data.a',
      mode: 'managed',
      type: 'terraform_data',
      name: 'a',
      provider_name: 'terraform.io/builtin/terraform',
      change: {
        actions: ['create'],
        before: null,
        after: { input: 'hello', triggers_replace: null },
        after_unknown: { id: true, output: true },
        before_sensitive: false,
        after_sensitive: {},
      },
    },
  ]);
  assert.ok(!lines.some((l) => l.includes('"format_version"')), 'show -json stdout goes to the file, not to onLine');

  await engine.apply(call, job.at('first.tfplan'));
  const state = await readJson(job.at('ws', 'terraform.tfstate'));
  assert.equal(state.version, 4);
  assert.equal(state.resources[0].instances[0].attributes.output.value, 'hello');

  const second = await engine.plan(call, job.at('second.tfplan'));
  assert.equal(second.changes, false);

  const log = await readFile(job.at('engine.log'), 'utf8');
  assert.equal(await mode(job.at('engine.log')), 0o600);
  assert.match(log, /Plan: 1 to add, 0 to change, 0 to destroy\./);
  assert.match(log, /Apply complete! Resources: 1 added, 0 changed, 0 destroyed\./);
  assert.match(log, /No changes\./);
  assert.ok(!log.includes('"format_version"'), 'the plan JSON is not copied into the log');
});

test('update, replace and delete show the right actions', async (t) => {
  const job = await makeJob(
    t,
    `resource "terraform_data" "keep" {
  input = "same"
}
resource "terraform_data" "upd" {
  input = "v1"
}
resource "terraform_data" "rep" {
  input            = "r"
  triggers_replace = "t1"
}
resource "terraform_data" "del" {
  input = { nested = [1, 2] }
}
resource "terraform_data" "many" {
  count = 2
  input = "m"
}
`,
  );
  const engine = createEngine(specForTests());
  await engine.init(job.call);
  const created = await planAndShow(job, engine, 'create');
  assert.equal(created.outcome.changes, true);
  assert.deepEqual(created.actions, {
    'terraform_data.del': 'create',
    'terraform_data.keep': 'create',
    'terraform_data.many[0]': 'create',
    'terraform_data.many[1]': 'create',
    'terraform_data.rep': 'create',
    'terraform_data.upd': 'create',
  });
  await engine.apply(job.call, created.planFile);

  await job.writeConfig(`resource "terraform_data" "keep" {
  input = "same"
}
resource "terraform_data" "upd" {
  input = "v2"
}
resource "terraform_data" "rep" {
  input            = "r"
  triggers_replace = "t2"
}
resource "terraform_data" "many" {
  count = 1
  input = "m"
}
`);
  const changed = await planAndShow(job, engine, 'change');
  assert.equal(changed.outcome.changes, true);
  assert.deepEqual(changed.actions, {
    'terraform_data.del': 'delete',
    'terraform_data.keep': 'no-op',
    'terraform_data.many[0]': 'no-op',
    'terraform_data.many[1]': 'delete',
    'terraform_data.rep': 'delete,create',
    'terraform_data.upd': 'update',
  });
  const byAddr = new Map((changed.doc.resource_changes as Change[]).map((c) => [c.address, c]));
  assert.deepEqual(byAddr.get('terraform_data.del')?.change.before.input, { nested: [1, 2] }, 'values are present unredacted');
  assert.equal(byAddr.get('terraform_data.upd')?.change.after.input, 'v2');
  assert.equal(byAddr.get('terraform_data.many[1]')?.index, 1);
  assert.equal(changed.doc.prior_state.values.root_module.resources.length, 6);

  await engine.apply(job.call, changed.planFile);
  assert.equal((await engine.plan(job.call, job.at('after.tfplan'))).changes, false);
});

test('secrets reach the child; the runner environment does not', async (t) => {
  const job = await makeJob(
    t,
    `variable "token" {
  type      = string
  sensitive = true
}
variable "leak" {
  default = "safe-default"
}
resource "terraform_data" "s" {
  input            = var.token
  triggers_replace = var.leak
}
`,
  );
  // If the runner's environment reached the engine, terraform itself would pick this up.
  process.env['TF_VAR_leak'] = 'leaked-from-runner-env';
  t.after(() => delete process.env['TF_VAR_leak']);
  const engine = createEngine(specForTests());
  const call = { ...job.call, secrets: { TF_VAR_token: 'plan-phase-secret' } };
  await engine.init(call);
  await engine.plan(call, job.at('p.tfplan'));
  await engine.showJson(call, job.at('p.tfplan'), job.at('p.json'));
  const doc = await readJson(job.at('p.json'));
  const after = doc.resource_changes[0].change.after;
  assert.equal(after.input, 'plan-phase-secret', 'the secret arrived, and show -json does not redact it');
  assert.equal(after.triggers_replace, 'safe-default', 'TF_VAR_leak from process.env did not reach the engine');
  assert.deepEqual(doc.resource_changes[0].change.after_sensitive, { input: true });
  assert.equal(doc.variables.token.value, 'plan-phase-secret');
});

test('the double sees only allowlisted variables (env dump)', { skip: needsDouble }, async (t) => {
  const job = await makeJob(t, 'resource "terraform_data" "a" {\n  input = 1\n}\n');
  process.env['AIRLOCK_CANARY_SECRET'] = 'runner-canary-value';
  t.after(() => delete process.env['AIRLOCK_CANARY_SECRET']);
  const dumpDir = job.at('env-dump');
  const engine = createEngine(specForTests({ env: { AIRLOCK_DOUBLE_ENV_DUMP: dumpDir, TF_VAR_region: 'eu' } }));
  await engine.plan({ ...job.call, secrets: { TF_VAR_token: 'xyz' } }, job.at('p.tfplan'));
  const files = await readdir(dumpDir);
  assert.equal(files.length, 1);
  assert.match(files[0]!, /^plan-\d+-[0-9a-f]{8}\.json$/);
  const env = await readJson(`${dumpDir}/${files[0]}`);
  assert.deepEqual(Object.keys(env).sort(), [
    'AIRLOCK_DOUBLE_ENV_DUMP',
    'CHECKPOINT_DISABLE',
    'HOME',
    'LANG',
    'PATH',
    'TF_CLI_CONFIG_FILE',
    'TF_INPUT',
    'TF_IN_AUTOMATION',
    'TF_VAR_region',
    'TF_VAR_token',
  ]);
  assert.equal(env.HOME, job.call.homeDir);
  assert.equal(env.TF_CLI_CONFIG_FILE, `${job.call.homeDir}/airlock-cli-config.tfrc`);
  assert.equal(await readFile(env.TF_CLI_CONFIG_FILE, 'utf8'), '', 'the CLI config is empty');
  assert.equal(await mode(env.TF_CLI_CONFIG_FILE), 0o600);
  assert.ok(!JSON.stringify(env).includes('runner-canary-value'));
});

test('a local backend path set by an override file is honoured by init', async (t) => {
  const job = await makeJob(
    t,
    `terraform {
  backend "local" {
    path = "from-main.tfstate"
  }
}
resource "terraform_data" "a" {
  input = "x"
}
`,
  );
  await job.writeConfig(JSON.stringify({ terraform: { backend: { local: { path: 'pinned/state.tfstate' } } } }), 'airlock_override.tf.json');
  const engine = createEngine(specForTests());
  await engine.init(job.call);
  const record = await readJson(job.at('ws', '.terraform', 'terraform.tfstate'));
  assert.equal(record.backend.type, 'local');
  assert.equal(record.backend.config.path, 'pinned/state.tfstate');
  await engine.plan(job.call, job.at('p.tfplan'));
  await engine.apply(job.call, job.at('p.tfplan'));
  const state = await readJson(job.at('ws', 'pinned', 'state.tfstate'));
  assert.equal(state.resources.length, 1);
  await assert.rejects(stat(job.at('ws', 'from-main.tfstate')), { code: 'ENOENT' });
});

test('show -json output larger than a pipe buffer is streamed intact to the file', async (t) => {
  const job = await makeJob(t, `resource "terraform_data" "bulk" {
  count = 400
  input = { text = "${'x'.repeat(300)}", list = [1, 2, 3] }
}
`);
  const engine = createEngine(specForTests());
  await engine.init(job.call);
  const lines: string[] = [];
  const call = { ...job.call, onLine: (l: string) => lines.push(l) };
  await engine.plan(call, job.at('p.tfplan'));
  await engine.showJson(call, job.at('p.tfplan'), job.at('p.json'));
  assert.ok((await stat(job.at('p.json'))).size > 256 * 1024, 'bigger than any pipe buffer');
  const doc = await readJson(job.at('p.json'));
  assert.equal(doc.resource_changes.length, 400);
  assert.equal(doc.resource_changes[399].address, 'terraform_data.bulk[399]');
  assert.equal(doc.resource_changes[399].change.after.input.text.length, 300);
});
