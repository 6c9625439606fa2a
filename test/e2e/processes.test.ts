// Runners as separate OS processes: two on one Redis never plan twice, and a runner killed with
// SIGKILL mid-apply never leads to a second apply; the run ends in needs_attention.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawnRunner, stopRunner } from '../support/spawn-runner.ts';
import path from 'node:path';
import { test } from 'node:test';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { makeRemote, pushCommit } from '../git-fixtures.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { deletePrefix, readInvocations, removeDir, tempDir, testPrefix, waitFor, writeConfig } from '../support/harness.ts';
import { main } from '../../src/cli/main.ts';
import { RunStore } from '../../src/run/run-store.ts';
import { deriveRunId } from '../../src/run/run.ts';
import { connectRedis } from '../../src/queue/queues.ts';
import { TF_TWO } from './loop-fixture.ts';

const isDouble = engineForTests().isDouble;

const silent = { out: () => undefined, err: () => undefined, isTTY: false };

test('two runner processes on one Redis plan each head once', { skip: !isDouble && 'counts engine invocations through the double' }, async (t) => {
  const root = await tempDir('two');
  const remote = await makeRemote();
  const prefix = testPrefix();
  const invocations = path.join(root, 'inv.jsonl');
  const configs = await Promise.all(
    ['one', 'two'].map((id) => writeConfig({ runnerId: id, remoteUrl: remote.url, dataDir: path.join(root, id, 'data'), prefix, engineEnv: { AIRLOCK_DOUBLE_LOG: invocations } })),
  );
  const children = await Promise.all(configs.map((c) => spawnRunner(c.file)));
  const redis = connectRedis(configs[0]!.config.redis.url);
  t.after(async () => {
    await Promise.all(children.map(stopRunner));
    redis.disconnect();
    await deletePrefix(prefix);
    await remote.cleanup();
    await removeDir(root);
  });
  const shas: string[] = [];
  for (let pr = 1; pr <= 4; pr++) shas.push(await pushCommit(remote, { 'main.tf': TF_TWO.replace('one', `one-${pr}`) }, { refs: [`refs/pull/${pr}/head`] }));
  const runs = new RunStore(redis, prefix);
  for (const sha of shas) {
    await waitFor(`run of ${sha} awaiting approval`, async () => (await runs.find(deriveRunId('infra', 'default', sha)))?.state === 'awaiting_approval');
  }
  // Give both pollers several more rounds to see the same heads again.
  await new Promise((r) => setTimeout(r, 2500));
  const plans = (await readInvocations(invocations)).filter((i) => i.argv.includes('plan'));
  assert.equal(plans.length, shas.length, 'one plan process per head across both runners');
  assert.equal((await runs.list()).length, shas.length);

  // Each runner keeps its own plan files: an approved run is applied by the runner that planned it.
  const planners = new Set<string>();
  for (const sha of shas) {
    const id = deriveRunId('infra', 'default', sha);
    const planner = (await runs.get(id)).plan!.runnerId!;
    const other = configs.find((c) => c.config.runner.id !== planner)!;
    assert.equal(await main(['node', 'airlock', 'approve', id, '--yes', '--config', other.file], silent), 1, 'refused on the other runner');
    const own = configs.find((c) => c.config.runner.id === planner)!;
    assert.equal(await main(['node', 'airlock', 'approve', id, '--yes', '--config', own.file], silent), 0);
    const done = await waitFor(`run ${id} to finish applying`, async () => {
      const r = await runs.find(id);
      return r && ['applied', 'failed'].includes(r.state) ? r : undefined;
    });
    // Later plans of the same workspace may be stale once an earlier one applied; never refused for a missing plan.
    assert.ok(done.state === 'applied' || done.error?.code === 'airlock:plan-stale', `${id}: ${done.state} ${JSON.stringify(done.error)}`);
    if (done.apply) assert.equal(done.apply.runnerId, done.plan?.runnerId, 'applied where it was planned');
    planners.add(done.plan!.runnerId!);
  }
  assert.equal(planners.size, 2, 'both runners planned some of the heads');
});

test('SIGKILL mid-apply: no second apply, ever; the run needs attention with what is known', { skip: !isDouble && 'needs the double to slow the apply down' }, async (t) => {
  const root = await tempDir('kill');
  const remote = await makeRemote();
  const prefix = testPrefix();
  const invocations = path.join(root, 'inv.jsonl');
  const loaded = await writeConfig({
    remoteUrl: remote.url,
    dataDir: path.join(root, 'data'),
    prefix,
    engineEnv: { AIRLOCK_DOUBLE_LOG: invocations, AIRLOCK_DOUBLE_DELAY_MS: '3000', AIRLOCK_DOUBLE_DELAY_COMMANDS: 'apply' },
  });
  let child = await spawnRunner(loaded.file);
  const redis = connectRedis(loaded.config.redis.url);
  t.after(async () => {
    await stopRunner(child);
    redis.disconnect();
    await deletePrefix(prefix);
    await remote.cleanup();
    await removeDir(root);
  });
  const runs = new RunStore(redis, prefix);
  const sha = await pushCommit(remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  const id = deriveRunId('infra', 'default', sha);
  await waitFor('awaiting approval', async () => (await runs.find(id))?.state === 'awaiting_approval');
  assert.equal(await main(['node', 'airlock', 'approve', id, '--yes', '--config', loaded.file], silent), 0);
  await waitFor('the apply process to start', async () => (await readInvocations(invocations)).some((i) => i.argv.includes('apply')));
  assert.equal((await runs.get(id)).state, 'applying');
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));

  child = await spawnRunner(loaded.file);
  const run = await waitFor('needs_attention', async () => {
    const r = await runs.find(id);
    return r?.state === 'needs_attention' ? r : undefined;
  });
  assert.match(run.attention?.reason ?? '', /died mid-apply|stopped answering|interrupted/);
  // Outlast the orphaned apply, the job lock and several stalled-job checks.
  await new Promise((r) => setTimeout(r, 8000));
  const applies = (await readInvocations(invocations)).filter((i) => i.argv.includes('apply'));
  assert.equal(applies.length, 1, 'the apply ran once and was never re-run');
  assert.equal((await runs.get(id)).state, 'needs_attention');
  const audit = await readAuditRecords(path.join(loaded.config.runner.dataDir, 'audit'), { run: id });
  assert.equal(audit.filter((r) => r.type === 'apply.started').length, 1);
  assert.ok(audit.some((r) => r.type === 'apply.needs_attention'));
  const shown = { text: '' };
  await main(['node', 'airlock', 'show', id, '--config', loaded.file], { out: (s) => (shown.text += s), err: () => undefined, isTTY: false });
  assert.match(shown.text, /NEEDS ATTENTION/);
});
