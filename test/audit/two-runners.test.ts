// Two runner processes on one Redis and one data directory apply in parallel; each writes its own chain
// (`one.jsonl`, `two.jsonl`, and the CLI's `one-cli.jsonl`, `two-cli.jsonl`), and every chain verifies.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawnRunner, stopRunner } from '../support/spawn-runner.ts';
import path from 'node:path';
import { test } from 'node:test';
import { RunStore } from '../../src/run/run-store.ts';
import { deriveRunId } from '../../src/run/run.ts';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { verifyChains } from '../../src/audit/verify-files.ts';
import { main } from '../../src/cli/main.ts';
import { connectRedis } from '../../src/queue/queues.ts';
import { TF_TWO } from '../e2e/loop-fixture.ts';
import { makeRemote, pushCommit } from '../git-fixtures.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { deletePrefix, removeDir, tempDir, testPrefix, waitFor, writeConfig } from '../support/harness.ts';

const isDouble = engineForTests().isDouble;

const silent = { out: () => undefined, err: () => undefined, isTTY: false };

test('two runner processes apply in parallel: every chain verifies', async (t) => {
  const root = await tempDir('two-audit');
  const remote = await makeRemote();
  const prefix = testPrefix();
  const dataDir = path.join(root, 'data');
  // A slow apply, so both runners' apply workers are busy at once.
  const engineEnv: Record<string, string> = isDouble ? { AIRLOCK_DOUBLE_DELAY_MS: '1500', AIRLOCK_DOUBLE_DELAY_COMMANDS: 'apply' } : {};
  // Four workspaces with their own state each, so four applies can run at the same time.
  const workspaces = ['a', 'b', 'c', 'd'].map((name) => ({ name, dir: name }));
  const [one, two] = await Promise.all(['one', 'two'].map((id) => writeConfig({ runnerId: id, remoteUrl: remote.url, dataDir, prefix, engineEnv, workspaces })));
  const children: ChildProcess[] = [];
  const redis = connectRedis(one!.config.redis.url);
  t.after(async () => {
    await Promise.all(children.map(stopRunner));
    redis.disconnect();
    await deletePrefix(prefix);
    await remote.cleanup();
    await removeDir(root);
  });
  const runs = new RunStore(redis, prefix);

  // Each runner plans two of the workspaces (a run is applied where it was planned), then both apply.
  const files = Object.fromEntries(workspaces.map((w) => [`${w.dir}/main.tf`, TF_TWO.replace('one', `one-${w.name}`)]));
  const planOn = async (config: typeof one, pr: number, names: string[]) => {
    const child = await spawnRunner(config!.file);
    const sha = await pushCommit(remote, files, { refs: [`refs/pull/${pr}/head`] });
    const planned = workspaces.map((w) => deriveRunId('infra', w.name, sha));
    for (const id of planned) await waitFor(`${id} planned`, async () => (await runs.find(id))?.state === 'awaiting_approval');
    return { child, ids: names.map((n) => deriveRunId('infra', n, sha)) };
  };
  const first = await planOn(one, 1, ['a', 'b']);
  await stopRunner(first.child);
  const second = await planOn(two, 2, ['c', 'd']);
  children.push(second.child, await spawnRunner(one!.file));
  const ids = [...first.ids, ...second.ids];
  assert.equal(ids.length, 4);

  // Approvals come through both runners' CLIs (each for the runs it planned), so both CLI chains are written too.
  for (const id of ids) {
    const planner = (await runs.get(id)).plan!.runnerId === 'one' ? one : two;
    assert.equal(await main(['node', 'airlock', 'approve', id, '--yes', '--config', planner!.file], silent), 0);
  }
  for (const id of ids) {
    const run = await waitFor(`${id} to finish`, async () => {
      const r = await runs.find(id);
      return r && ['applied', 'failed', 'needs_attention'].includes(r.state) ? r : undefined;
    }, 60_000);
    assert.equal(run.state, 'applied', JSON.stringify(run.error));
  }

  const auditDir = path.join(dataDir, 'audit');
  const reports = await verifyChains(auditDir);
  assert.deepEqual(reports.map((r) => [r.chain, r.result.ok]), [
    ['one-cli.jsonl', true],
    ['one.jsonl', true],
    ['two-cli.jsonl', true],
    ['two.jsonl', true],
  ]);
  const appliedBy = new Set((await Promise.all(ids.map((id) => runs.get(id)))).map((r) => r.apply?.runnerId));
  if (isDouble) assert.deepEqual([...appliedBy].sort(), ['one', 'two'], 'both runners applied');
  const records = await readAuditRecords(auditDir);
  for (const id of ids) {
    assert.equal(records.filter((r) => r.run === id && r.type === 'apply.finished').length, 1, `${id} applied once, on record`);
    assert.equal(records.filter((r) => r.run === id && r.type === 'approval.granted').length, 1);
  }
  let out = '';
  const verify = await main(['node', 'airlock', 'audit', 'verify', '--config', two!.file], { out: (s) => (out += `${s}\n`), err: (s) => (out += `${s}\n`), isTTY: false });
  assert.equal(verify, 0, out);
  assert.equal(out.trim().split('\n').filter((l) => l.startsWith('ok')).length, 4);
});
