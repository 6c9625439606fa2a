// The guard in a running runner: every refused construct, pushed as its own pull request, ends `refused`
// with its rule id before any engine process exists; a safe pull request is planned as usual.
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { makeRemote, pushCommit } from '../git-fixtures.ts';
import { setupLoop, TF_TWO } from '../e2e/loop-fixture.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { tempDir, removeDir, waitForState } from '../support/harness.ts';
import { ALLOW, REFUSED } from './refused-fixtures.ts';


/**
 * The engine under test behind a wrapper that records every start, so "no engine process" is checked the
 * same way against the double and against a real terraform/tofu.
 */
async function recordedEngine(t: import('node:test').TestContext): Promise<{ engine: object; starts: () => Promise<string[]> }> {
  const dir = await tempDir('engine-wrap');
  t.after(() => removeDir(dir));
  const real = engineForTests();
  const log = path.join(dir, 'starts.log');
  const wrapper = path.join(dir, 'engine');
  await writeFile(wrapper, `#!/bin/sh\necho "$1" >> '${log}'\nexec '${real.binary}' "$@"\n`);
  await chmod(wrapper, 0o755);
  return {
    engine: { kind: real.kind, binary: wrapper, path: real.path, env: real.env, timeouts: { init: '2m', plan: '2m', apply: '2m' }, lockTimeout: '1s' },
    starts: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean),
  };
}

test('each refused construct ends its run `refused` with its rule id, and no engine process ever starts', async (t) => {
  const recorded = await recordedEngine(t);
  const loop = await setupLoop(t, { extra: { guard: ALLOW, engine: recorded.engine, plans: { attempts: 2, backoff: '1s', concurrency: 4 } } });
  const pushed: Array<{ id: string; rule: string; name: string }> = [];
  for (const [i, [name, files, rule]] of REFUSED.entries()) {
    const sha = await pushCommit(loop.remote, files, { refs: [`refs/pull/${i + 1}/head`] });
    pushed.push({ id: loop.runId(sha), rule, name });
  }
  await loop.runner.watcher.pollAll();
  for (const { id, rule, name } of pushed) {
    const run = await waitForState(loop.runner, id, ['refused', 'failed', 'awaiting_approval', 'planned'], 60_000);
    assert.equal(run.state, 'refused', `${name}: ${JSON.stringify(run.error)}`);
    assert.equal(run.error?.code, 'airlock:guard-refused', name);
    assert.ok(run.refusal?.some((r) => r.startsWith(`[${rule}] `)), `${name}: expected [${rule}] in ${JSON.stringify(run.refusal)}`);
  }
  assert.deepEqual(await recorded.starts(), [], 'no engine process was spawned for any refused tree');

  // The reasons reach the audit log and `airlock show`.
  const first = pushed[0]!;
  const refusedRecord = (await readAuditRecords(loop.runner.cp.paths.auditDir, { run: first.id })).find((r) => r.type === 'plan.refused');
  assert.ok(Array.isArray(refusedRecord?.detail?.['reasons']));
  assert.match(String((refusedRecord!.detail!['reasons'] as string[])[0]), /^\[external-data\] main\.tf data\.external\.x: /);
  const shown = await loop.cli('show', first.id);
  assert.equal(shown.code, 0, shown.err);
  assert.match(shown.out, /refused: \[external-data\] main\.tf data\.external\.x/);

  // A safe pull request on the same runner plans as usual.
  const safe = await pushCommit(loop.remote, { 'main.tf': TF_TWO, 'README.md': 'data "external" in prose is fine\n' }, { refs: ['refs/pull/900/head'] });
  await loop.runner.watcher.pollAll();
  const planned = await waitForState(loop.runner, loop.runId(safe), ['awaiting_approval', 'refused', 'failed'], 60_000);
  assert.equal(planned.state, 'awaiting_approval', JSON.stringify(planned.error ?? planned.refusal));
  assert.ok((await recorded.starts()).includes('plan'), 'the safe tree was planned through the same recorded engine');
});

test('lenient mode plans a tree with a host file read and carries the warning as a reason', async (t) => {
  const loop = await setupLoop(t, { extra: { guard: { mode: 'lenient' } } });
  // The guard reads every configuration file of the tree, not only the workspace's: a module the root never
  // calls (so no engine evaluates it) still gets the warning.
  const tf = 'locals {\n  motd = templatefile("/etc/motd", {})\n}\n';
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO, 'modules/unused/main.tf': tf }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha), ['awaiting_approval', 'refused', 'failed'], 60_000);
  assert.equal(run.state, 'awaiting_approval', JSON.stringify(run.error ?? run.refusal));
  assert.ok(run.plan?.reasons.some((r) => /^guard warning \(lenient mode\) \[file-function\] modules\/unused\/main\.tf local\.motd: templatefile\(\) reads the absolute path "\/etc\/motd"/.test(r)), JSON.stringify(run.plan?.reasons));
});

test('code init fetched is guarded before plan runs it: a module that reads the host is refused after init', async (t) => {
  const recorded = await recordedEngine(t);
  const moduleRemote = await makeRemote();
  t.after(() => moduleRemote.cleanup());
  const moduleSha = await pushCommit(
    moduleRemote,
    {
      'main.tf': 'resource "terraform_data" "m" {\n  input = templatefile("${path.module}/motd.tpl", {})\n}\n',
      'motd.tpl': 'hello ${file("/etc/hostname")}\n',
    },
    { refs: ['refs/heads/main', 'refs/heads/master'] },
  );
  const loop = await setupLoop(t, { extra: { guard: { modules: ['git::file:///**'] }, engine: recorded.engine } });
  const tf = `module "m" {\n  source = "git::${moduleRemote.url}?ref=${moduleSha}"\n}\n`;
  const sha = await pushCommit(loop.remote, { 'main.tf': tf }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha), ['refused', 'failed', 'awaiting_approval'], 60_000);
  assert.equal(run.state, 'refused', JSON.stringify(run.error));
  assert.ok(
    run.refusal?.some((r) => /^\[file-function\] \.terraform\/modules\/m\/main\.tf terraform_data\.m \(template \.terraform\/modules\/m\/motd\.tpl\): file\(\) reads the absolute path/.test(r)),
    JSON.stringify(run.refusal),
  );
  assert.deepEqual(await recorded.starts(), ['init'], 'init fetched the module; plan never ran');
});

test('a committed tfvars file may not set a variable the runner injects; nothing runs', async (t) => {
  const recorded = await recordedEngine(t);
  const engine = { ...recorded.engine, env: { TF_VAR_region: 'eu-west-1' } };
  const loop = await setupLoop(t, { extra: { engine } });
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO, 'prod.auto.tfvars': 'region = "attacker-controlled"\n' }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha), ['refused', 'failed', 'awaiting_approval'], 60_000);
  assert.equal(run.state, 'refused', JSON.stringify(run.error));
  assert.deepEqual(run.refusal, ['[injected-variable] prod.auto.tfvars var.region: sets a variable the runner injects (TF_VAR_* from its config or credentials); a committed value would override it']);
  assert.deepEqual(await recorded.starts(), []);
});
