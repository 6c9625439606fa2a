// Drift schedules across runner processes: two runners on one Redis with a two-second schedule fire each
// slot once (one delayed job per slot, the same id on both), and each slot's drift run is planned once.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { connectRedis } from '../../src/queue/queues.ts';
import { RunStore } from '../../src/run/run-store.ts';
import { makeRemote, pushCommit } from '../git-fixtures.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { deletePrefix, readInvocations, removeDir, tempDir, testPrefix, waitFor, writeConfig } from '../support/harness.ts';
import { spawnRunner, stopRunner } from '../support/spawn-runner.ts';
import { TF_TWO } from './loop-fixture.ts';

const isDouble = engineForTests().isDouble;

test('two runner processes fire each drift slot once', { skip: !isDouble && 'counts engine invocations through the double' }, async (t) => {
  const root = await tempDir('drift-two');
  const remote = await makeRemote();
  const prefix = testPrefix();
  const invocations = path.join(root, 'inv.jsonl');
  await pushCommit(remote, { 'main.tf': TF_TWO }, { refs: ['refs/heads/main'] });
  const drift = { schedule: '*/2 * * * * *', ref: 'refs/heads/main', jitter: '0s' };
  const configs = await Promise.all(
    ['one', 'two'].map((id) =>
      writeConfig({ runnerId: id, remoteUrl: remote.url, dataDir: path.join(root, id, 'data'), prefix, engineEnv: { AIRLOCK_DOUBLE_LOG: invocations }, workspaces: [{ name: 'default', dir: '.', drift }] }),
    ),
  );
  let children: ChildProcess[] = [];
  const redis = connectRedis(configs[0]!.config.redis.url);
  t.after(async () => {
    await Promise.all(children.map(stopRunner));
    redis.disconnect();
    await deletePrefix(prefix);
    await remote.cleanup();
    await removeDir(root);
  });
  children = await Promise.all(configs.map((c) => spawnRunner(c.file)));
  const runs = new RunStore(redis, prefix);
  const driftRuns = async () => (await runs.list(1000)).filter((r) => r.kind === 'drift');
  await waitFor('drift runs of four slots', async () => (await driftRuns()).length >= 4, 60_000);
  await Promise.all(children.map(stopRunner));

  const all = await driftRuns();
  const slots = all.map((r) => r.driftSlot!);
  assert.equal(new Set(slots).size, all.length, 'one run per slot');
  for (const slot of slots) assert.equal(new Date(slot).getUTCSeconds() % 2, 0, `slot ${slot} is on the schedule`);
  // Each slot was sighted once, by one of the two runners.
  const sightings = [];
  for (const c of configs) {
    sightings.push(...(await readAuditRecords(path.join(c.config.runner.dataDir, 'audit'), {})).filter((r) => r.type === 'run.sighted' && r.detail?.['kind'] === 'drift'));
  }
  assert.equal(sightings.length, all.length, 'each slot sighted once across both runners');
  assert.ok(new Set(sightings.map((r) => r.run)).size === sightings.length);
  // Planned at most once each (a run superseded by the next slot before planning is not planned at all:
  // under load every slot can be superseded before its plan, so how many plan is not fixed, only the bound).
  const plans = (await readInvocations(invocations)).filter((i) => i.argv.includes('plan'));
  const planned = plans.map((p) => all.find((r) => p.cwd.includes(`/${r.id}/`))?.id ?? `unknown run at ${p.cwd}`);
  assert.deepEqual(planned.filter((id, i) => planned.indexOf(id) !== i), [], 'no drift run planned twice');
  for (const id of planned) assert.ok(all.some((r) => r.id === id), `a plan belongs to a drift run of this test: ${id}`);
  // Older drift runs were superseded by newer ones; PR runs were never involved.
  assert.ok(all.every((r) => r.pr === null && r.ref === 'refs/heads/main'));
});
