// The rarer plans, run through the engine under test (the terraform double, or real terraform with
// AIRLOCK_TEST_ENGINE): moved, forget, create-before-destroy, deferred read, import, output-only and errored
// plans have the shape terraform 1.11.4 gives them; a lock whose holder was SIGKILLed does not block; an
// ephemeral variable must be given again at apply. The same assertions hold for both engines.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { CHILD_PATH, engineBinaryForTests, makeJob } from './engine-under-test.ts';

interface Ran {
  code: number;
  out: string;
  err: string;
}

async function engine(t: TestContext) {
  const job = await makeJob(t);
  const home = job.at('home');
  await mkdir(home, { recursive: true });
  await writeFile(path.join(home, 'cli.tfrc'), '');
  const run = (args: string[], env: Record<string, string> = {}) =>
    new Promise<Ran>((resolve) => {
      execFile(engineBinaryForTests(), args, { cwd: job.cwd, env: { PATH: CHILD_PATH, HOME: home, TF_CLI_CONFIG_FILE: path.join(home, 'cli.tfrc'), CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', ...env } }, (err, out, e) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out, err: e }),
      );
    });
  return {
    job,
    run,
    /** Apply `base` (if any), then plan `next` to p.tfplan; returns the plan's exit code, JSON and text. */
    async plan(next: string, base?: string, env: Record<string, string> = {}) {
      if (base !== undefined) {
        await job.writeConfig(base);
        assert.equal((await run(['init', '-input=false', '-no-color'])).code, 0);
        const applied = await run(['apply', '-auto-approve', '-input=false', '-no-color'], env);
        assert.equal(applied.code, 0, applied.err);
      }
      await job.writeConfig(next);
      assert.equal((await run(['init', '-input=false', '-no-color'])).code, 0);
      const planned = await run(['plan', '-input=false', '-no-color', '-detailed-exitcode', `-out=${job.at('ws', 'p.tfplan')}`], env);
      const shown = await run(['show', '-json', job.at('ws', 'p.tfplan')]);
      const json = shown.code === 0 ? (JSON.parse(shown.out) as Record<string, any>) : null;
      return { code: planned.code, text: planned.out + planned.err, json };
    },
  };
}

const rc = (json: Record<string, any> | null) => (json?.['resource_changes'] ?? []) as Array<Record<string, any>>;
const A = 'resource "terraform_data" "a" {\n  input = "x"\n}\n';

test('moved: the object keeps its id under the new address, and the plan has changes', async (t) => {
  const e = await engine(t);
  const p = await e.plan('resource "terraform_data" "b" {\n  input = "x"\n}\n\nmoved {\n  from = terraform_data.a\n  to   = terraform_data.b\n}\n', A);
  assert.equal(p.code, 2);
  const [b] = rc(p.json);
  assert.deepEqual([b!['address'], b!['previous_address'], b!['change']['actions']], ['terraform_data.b', 'terraform_data.a', ['no-op']]);
  assert.match(p.text, /terraform_data\.a has moved to terraform_data\.b/);
});

test('removed with destroy = false: a forget, kept in planned_values without values', async (t) => {
  const e = await engine(t);
  const p = await e.plan('removed {\n  from = terraform_data.a\n\n  lifecycle {\n    destroy = false\n  }\n}\n', A);
  assert.equal(p.code, 2);
  const [a] = rc(p.json);
  assert.deepEqual([a!['change']['actions'], a!['action_reason'], a!['change']['after']], [['forget'], 'delete_because_no_resource_config', null]);
  const planned = p.json!['planned_values']['root_module']['resources'][0];
  assert.deepEqual([planned['address'], 'values' in planned, planned['sensitive_values']], ['terraform_data.a', false, false]);
  assert.match(p.text, /will no longer be managed by Terraform, but will not be destroyed/);
  const applied = await e.run(['apply', '-input=false', '-no-color', e.job.at('ws', 'p.tfplan')]);
  assert.equal(applied.code, 0, applied.err);
  assert.deepEqual(JSON.parse(await readFile(e.job.at('ws', 'terraform.tfstate'), 'utf8'))['resources'], []);
});

test('create_before_destroy: ["create","delete"] with the replace reason', async (t) => {
  const e = await engine(t);
  const cfg = (n: string) => `resource "terraform_data" "a" {\n  input            = "x"\n  triggers_replace = "${n}"\n\n  lifecycle {\n    create_before_destroy = true\n  }\n}\n`;
  const p = await e.plan(cfg('2'), cfg('1'));
  const [a] = rc(p.json);
  assert.deepEqual([a!['change']['actions'], a!['change']['replace_paths'], a!['action_reason']], [['create', 'delete'], [['triggers_replace']], 'replace_because_cannot_update']);
  assert.match(p.text, /\+\/- create replacement and then destroy/);
});

test('a data source whose config is unknown is read at apply time: a "read" change, listed first', async (t) => {
  const e = await engine(t);
  const p = await e.plan(`${A}\ndata "terraform_remote_state" "s" {\n  backend = "local"\n  config = {\n    path = terraform_data.a.output\n  }\n}\n`);
  assert.equal(p.code, 2);
  const [read, create] = rc(p.json);
  assert.deepEqual([read!['address'], read!['mode'], read!['change']['actions'], read!['action_reason']], ['data.terraform_remote_state.s', 'data', ['read'], 'read_because_config_unknown']);
  assert.deepEqual(read!['change']['after_unknown'], { config: { path: true }, outputs: true });
  assert.deepEqual(create!['change']['actions'], ['create']);
  assert.match(p.text, /will be read during apply/);
});

test('import: "importing" on the change, the object in prior_state; an import alone has changes', async (t) => {
  const e = await engine(t);
  const p = await e.plan('resource "terraform_data" "a" {}\n\nimport {\n  to = terraform_data.a\n  id = "abc"\n}\n');
  assert.equal(p.code, 2);
  const [a] = rc(p.json);
  assert.deepEqual([a!['change']['actions'], a!['change']['importing']], [['no-op'], { id: 'abc' }]);
  assert.equal(p.json!['prior_state']['values']['root_module']['resources'][0]['values']['id'], 'abc');
  assert.match(p.text, /1 to import/);
  const applied = await e.run(['apply', '-input=false', '-no-color', e.job.at('ws', 'p.tfplan')]);
  assert.equal(applied.code, 0, applied.err);
  const state = JSON.parse(await readFile(e.job.at('ws', 'terraform.tfstate'), 'utf8'));
  assert.equal(state['resources'][0]['instances'][0]['attributes']['id'], 'abc');
});

test('output-only: output_changes carry the actions, unknown values have no "after", and the plan has changes', async (t) => {
  const e = await engine(t);
  const base = `${A}\noutput "gone" {\n  value = "bye"\n}\n\noutput "same" {\n  value = "s"\n}\n`;
  const next = `${A}\nresource "terraform_data" "b" {\n  input = "y"\n}\n\noutput "u" {\n  value = terraform_data.b.output\n}\n\noutput "same" {\n  value = "s"\n}\n\noutput "sec" {\n  value     = "hidden"\n  sensitive = true\n}\n`;
  const p = await e.plan(next, base);
  const oc = p.json!['output_changes'];
  assert.deepEqual(Object.fromEntries(Object.entries(oc).map(([k, v]) => [k, (v as { actions: string[] }).actions])), { gone: ['delete'], same: ['no-op'], sec: ['create'], u: ['create'] });
  assert.equal('after' in oc['u'], false);
  assert.equal(oc['u']['after_unknown'], true);
  assert.deepEqual([oc['sec']['before_sensitive'], oc['sec']['after_sensitive']], [true, true]);
  assert.deepEqual(p.json!['planned_values']['outputs']['u'], { sensitive: false });
  const outputsOnly = await e.plan(`${A}\noutput "gone" {\n  value = "changed"\n}\n\noutput "same" {\n  value = "s"\n}\n`);
  assert.equal(outputsOnly.code, 2, 'an output-only change is a change');
  assert.deepEqual(rc(outputsOnly.json).map((r) => r['change']['actions']), [['no-op']]);
  assert.match(outputsOnly.text, /Changes to Outputs:/);
});

test('an errored plan still writes the plan file (errored, not applyable), and applying it is refused', async (t) => {
  const e = await engine(t);
  const p = await e.plan(`${A}\nresource "terraform_data" "b" {\n  input = "y"\n\n  lifecycle {\n    precondition {\n      condition     = terraform_data.a.input == "nope"\n      error_message = "precondition failed"\n    }\n  }\n}\n`);
  assert.equal(p.code, 1);
  assert.match(p.text, /Resource precondition failed/);
  assert.equal((await stat(e.job.at('ws', 'p.tfplan'))).mode & 0o777 & ~0o022, 0o644);
  assert.deepEqual([p.json!['errored'], p.json!['applyable'], p.json!['complete']], [true, false, false]);
  assert.deepEqual(rc(p.json).map((r) => r['address']), ['terraform_data.a'], 'what was planned before the failure');
  const applied = await e.run(['apply', '-input=false', '-no-color', e.job.at('ws', 'p.tfplan')]);
  assert.equal(applied.code, 1);
  assert.match(applied.err, /Cannot apply incomplete plan/);
});

test('the plan text prints `output` even when `input` is sensitive, as terraform does', async (t) => {
  const e = await engine(t);
  const cfg = (v: string) => `variable "s" {\n  default   = "${v}"\n  sensitive = true\n}\n\nresource "terraform_data" "a" {\n  input = var.s\n}\n`;
  const p = await e.plan(cfg('secret-two'), cfg('secret-one'));
  assert.match(p.text, /~ input {2}= \(sensitive value\)/);
  assert.match(p.text, /~ output = "secret-one" -> \(known after apply\)/);
});

test('an ephemeral variable is not saved in the plan: the apply must be given it again', async (t) => {
  const e = await engine(t);
  const cfg = 'variable "tok" {\n  type      = string\n  ephemeral = true\n}\n\nresource "terraform_data" "a" {\n  input = "x"\n}\n';
  const p = await e.plan(cfg, undefined, { TF_VAR_tok: 'plan-time' });
  assert.equal(p.code, 2);
  assert.equal(JSON.stringify(p.json).includes('plan-time'), false, 'the value is not in the plan');
  const without = await e.run(['apply', '-input=false', '-no-color', e.job.at('ws', 'p.tfplan')]);
  assert.equal(without.code, 1);
  assert.match(without.err, /ephemeral input variable "tok" was set during the plan phase/);
  const withIt = await e.run(['apply', '-input=false', '-no-color', e.job.at('ws', 'p.tfplan')], { TF_VAR_tok: 'apply-time' });
  assert.equal(withIt.code, 0, withIt.err);
});

test('a lock whose holder was SIGKILLed does not block the next run (the OS lock died with it)', async (t) => {
  const e = await engine(t);
  await e.job.writeConfig(A);
  assert.equal((await e.run(['init', '-input=false', '-no-color'])).code, 0);
  const home = e.job.at('home');
  const holder = spawn(engineBinaryForTests(), ['apply', '-no-color'], { cwd: e.job.cwd, env: { PATH: CHILD_PATH, HOME: home, TF_CLI_CONFIG_FILE: path.join(home, 'cli.tfrc'), CHECKPOINT_DISABLE: '1' }, stdio: ['pipe', 'pipe', 'ignore'] });
  let seen = '';
  await new Promise<void>((resolve) => holder.stdout!.on('data', (d: Buffer) => ((seen += d.toString()), seen.includes('Enter a value') && resolve())));
  const exited = new Promise((r) => holder.once('exit', r));
  holder.kill('SIGKILL');
  await exited;
  await stat(e.job.at('ws', '.terraform.tfstate.lock.info')); // the info file is left behind, as terraform leaves it
  const next = await e.run(['plan', '-input=false', '-no-color', '-lock-timeout=0s']);
  assert.equal(next.code, 0, next.err);
});

test('configurations terraform accepts are accepted: outputs, checks, validations, lifecycle, and a repo backend an override replaces', async (t) => {
  const e = await engine(t);
  await writeFile(e.job.at('ws', 'override.tf'), 'terraform {\n  backend "local" {\n    path = "state/o.tfstate"\n  }\n}\n');
  const p = await e.plan(
    [
      'terraform {\n  backend "s3" {\n    bucket = "never-used"\n    key    = "k"\n    region = "eu-west-1"\n  }\n}\n',
      'variable "env" {\n  type    = string\n  default = "lab"\n\n  validation {\n    condition     = var.env != "prod"\n    error_message = "not prod"\n  }\n}\n',
      'resource "terraform_data" "a" {\n  input = var.env\n\n  lifecycle {\n    ignore_changes = [triggers_replace]\n  }\n}\n',
      'check "c" {\n  assert {\n    condition     = terraform_data.a.input == "lab"\n    error_message = "x"\n  }\n}\n',
      'output "o" {\n  value = terraform_data.a.input\n}\n',
    ].join('\n'),
  );
  assert.equal(p.code, 2, p.text);
  assert.deepEqual(rc(p.json).map((r) => [r['address'], r['change']['actions']]), [['terraform_data.a', ['create']]]);
  assert.deepEqual(p.json!['output_changes']['o']['actions'], ['create']);
  const bad = await e.run(['plan', '-input=false', '-no-color'], { TF_VAR_env: 'prod' });
  assert.equal(bad.code, 1);
  assert.match(bad.err, /not prod/);
});
