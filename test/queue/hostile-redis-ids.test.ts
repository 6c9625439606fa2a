// Redis is input, not truth: a test attacker with full write access to the runner's keys plants run records
// with hostile ids, records that no longer derive their id, and BullMQ jobs with crafted payloads, against
// a real runner process. Nothing outside a job directory is touched, and the runner keeps serving.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { deriveRunId } from '../../src/run/run.ts';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { verifyChains } from '../../src/audit/verify-files.ts';
import { main } from '../../src/cli/main.ts';
import { applyQueueName } from '../../src/queue/queues.ts';
import { TF_TWO } from '../e2e/loop-fixture.ts';
import { pushCommit } from '../git-fixtures.ts';
import { waitFor } from '../support/harness.ts';
import { hostileSetup, snapshot } from './hostile-fixture.ts';

const silent = { out: () => undefined, err: () => undefined, isTTY: false };

test('hostile ids, records and jobs from Redis never leave the job directory; the runner keeps serving', async (t) => {
  const workspaces = [{ name: 'default', dir: 'default' }, { name: 'other', dir: 'other' }];
  const { root, remote, prefix, dataDir, loaded, attacker, start } = await hostileSetup(t, 'hostile-ids', { workspaces });
  // What a `..` job directory would reach: the data dir's local state and audit chain, and the parent.
  await mkdir(path.join(dataDir, 'state', 'infra', 'default'), { recursive: true, mode: 0o700 });
  await writeFile(path.join(dataDir, 'state', 'infra', 'default', 'sentinel'), 'beside the local state');
  await writeFile(path.join(root, 'sentinel'), 'outside the data dir');
  const runner = await start();

  const files = { 'default/main.tf': TF_TWO, 'other/main.tf': TF_TWO.replace('one', 'other') };
  const sha = await pushCommit(remote, files, { refs: ['refs/pull/1/head'] });
  const legit = deriveRunId('infra', 'default', sha);
  await waitFor('the legit run to await approval', async () => (await attacker.redis.hget(attacker.key('run', legit), 'state')) === 'awaiting_approval');
  const before = await snapshot(root);

  // Run records the runner never wrote: an id of `..`, a document claiming `..` under a real-looking key,
  // and a record of the legit run's (repo, workspace) whose sha no longer derives its id.
  const forgedKey = `r${randomBytes(8).toString('hex').slice(0, 15)}`;
  const base = { ...(await attacker.runDoc(legit)), state: 'planning', plan: undefined, approval: undefined };
  await attacker.plantRun('..', { ...base, id: '..' });
  await attacker.plantRun(forgedKey, { ...base, id: '../..' });
  const shaSwapped = deriveRunId('infra', 'default', 'e'.repeat(40));
  await attacker.plantRun(shaSwapped, { ...base, id: shaSwapped, sha: 'f'.repeat(40) });
  // Jobs with crafted payloads on every queue the runner works.
  const jobs: Array<[string, string, unknown, string]> = [
    ['plan', 'plan', { runId: '..' }, 'plan-..'],
    ['plan', 'plan', { runId: '../../..' }, 'plan-x1'],
    ['plan', 'plan', { runId: forgedKey }, `plan-${forgedKey}`],
    ['plan', 'plan', { runId: shaSwapped }, `plan-${shaSwapped}`],
    ['plan', 'plan', { runId: legit, path: '/' }, `plan-${legit}-extra`],
    ['plan', 'plan', { runId: `/${legit}` }, 'plan-abs'],
    ['plan', 'plan', { runId: `${legit}\0` }, 'plan-nul'],
    ['control', 'expire', { runId: '..' }, `expire-..-${Date.now()}`],
    ['control', 'expire', { runId: legit }, 'expire-of-another-shape'],
    [applyQueueName('victim'), 'apply', { runId: '../audit' }, 'apply-../audit'],
    [applyQueueName('victim'), 'apply', { runId: 42 }, 'apply-42'],
  ];
  for (const [queue, name, data, id] of jobs) await attacker.injectJob(queue, name, data, id);
  for (const [queue, , , id] of jobs) {
    const outcome = await waitFor(`injected job ${id} to be taken`, async () => {
      const o = await attacker.jobOutcome(queue, id);
      return o && (o.state === 'failed' || o.state === 'completed') ? o : undefined;
    });
    // Control: each job reached a worker and was refused there by the check (not ignored by BullMQ).
    assert.equal(outcome.state, 'failed', `${id}: ${JSON.stringify(outcome)}`);
    assert.match(outcome.failedReason ?? '', /airlock:redis-record-invalid|^no run "r[0-9a-f]{15}"/, id);
  }
  const quarantined = runner
    .log()
    .split('\n')
    .filter((l) => l.includes('"event":"redis.quarantined"'));
  assert.ok(quarantined.some((l) => l.includes('"kind":"plan job"')), 'the crafted plan jobs are quarantined');
  assert.ok(quarantined.some((l) => l.includes(`"key":"${prefix}:run:${forgedKey}"`)), 'the record claiming `../..` is quarantined');
  assert.ok(quarantined.some((l) => l.includes(`"key":"${prefix}:run:${shaSwapped}"`)), 'the record whose sha does not derive its id is quarantined');

  // Nothing outside the jobs directory changed; every audit chain still verifies.
  const after = await snapshot(root);
  for (const [file, content] of before) {
    if (file.startsWith(path.join('data', 'jobs'))) continue;
    if (file.startsWith(path.join('data', 'audit'))) continue; // appended to, checked by verify below
    assert.equal(after.get(file), content, `${file} was changed or deleted`);
  }
  assert.equal(after.get('sentinel'), 'outside the data dir');
  assert.ok((await verifyChains(path.join(dataDir, 'audit'))).every((c) => c.result.ok), 'the audit chains verify');
  assert.deepEqual((await readdir(path.join(dataDir, 'jobs'))).sort(), [legit, deriveRunId('infra', 'other', sha)].sort(), 'only the two real runs have job dirs');

  // The runner goes on: the legit run is approved and applied, and the other workspace still plans.
  assert.equal(await main(['node', 'airlock', 'approve', legit, '--yes', '--config', loaded.file], silent), 0);
  await waitFor('the legit run applied', async () => (await attacker.redis.hget(attacker.key('run', legit), 'state')) === 'applied');
  const sha2 = await pushCommit(remote, { ...files, 'other/main.tf': TF_TWO.replace('one', 'other-2') }, { refs: ['refs/pull/2/head'] });
  const next = deriveRunId('infra', 'other', sha2);
  await waitFor('a run of the other workspace to await approval', async () => (await attacker.redis.hget(attacker.key('run', next), 'state')) === 'awaiting_approval');
  const applies = (await readAuditRecords(path.join(dataDir, 'audit'))).filter((r) => r.type === 'apply.started');
  assert.deepEqual(applies.map((r) => r.run), [legit], 'exactly one apply, of the approved run');
});
