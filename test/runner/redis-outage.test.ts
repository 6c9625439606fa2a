// `airlock start` as systemd runs it, through a Redis outage: a Redis that goes away later gets one log
// line per change of state, not a stack trace per reconnect attempt, and the runner plans again after.
// (Its own file: with startup.test.ts it made one file slow enough to near the per-file timeout on a busy machine.)
// The Redis keeps its data (AOF) across the outage: an outage that also loses the data is redis-data-loss.test.ts.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { RunStore } from '../../src/run/run-store.ts';
import { deriveRunId } from '../../src/run/run.ts';
import { pushCommit } from '../git-fixtures.ts';
import { spawnCli } from '../support/cli-process.ts';
import { configFixture } from '../support/config-fixture.ts';
import { waitFor } from '../support/harness.ts';
import { startPrivateRedis } from '../support/private-redis.ts';
import { TF_TWO } from '../e2e/loop-fixture.ts';

test('Redis going away and coming back: one line each for lost, retrying and back; the runner plans again', async (t) => {
  const aofDir = await mkdtemp(path.join(tmpdir(), 'airlock-outage-aof-'));
  const redis = await startPrivateRedis(['--appendonly', 'yes', '--appendfsync', 'always', '--dir', aofDir]);
  const prefix = 'airlock-outage';
  const { file, remote } = await configFixture(t, { redis: { url: redis.url, prefix } });
  const child = spawnCli(['start', '--config', file]);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const client = new Redis(redis.url, { maxRetriesPerRequest: null });
  client.on('error', () => undefined);
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    client.disconnect();
    await redis.stop();
    await rm(aofDir, { recursive: true, force: true });
  });
  const lines = () => stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const events = (name: string) => lines().filter((l) => l['event'] === name);
  await waitFor('the runner to start', async () => lines().some((l) => l['msg'] === 'runner started'));

  await redis.stop();
  await waitFor('the lost and retrying lines', async () => events('redis.retrying').length > 0);
  // Long enough for every connection to fail several reconnect attempts (ioredis backs off to 2 s).
  await new Promise((r) => setTimeout(r, 4000));
  await redis.start();
  await waitFor('the back line', async () => events('redis.back').length > 0);

  // The runner still works: a new pull request is planned and waits for a decision.
  const sha = await pushCommit(remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  const runs = new RunStore(client, prefix);
  await waitFor('the new PR to be planned', async () => (await runs.find(deriveRunId('infra', 'default', sha)))?.state === 'awaiting_approval', 90_000);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);

  assert.equal(events('redis.lost').length, 1, stdout);
  assert.equal(events('redis.retrying').length, 1, stdout);
  assert.equal(events('redis.back').length, 1, stdout);
  assert.equal(stderr, '', 'nothing printed outside the log');
  assert.doesNotMatch(stdout, /"stack"/, 'no stack traces in the log');
  const loud = lines().filter((l) => Number(l['level']) >= 40).map((l) => l['event'] ?? l['msg']);
  assert.deepEqual(loud, ['redis.lost', 'redis.retrying'], 'the outage is the only warning');
  const [lost, back] = [events('redis.lost')[0]!, events('redis.back')[0]!];
  assert.equal(lost['redis'], redis.url);
  assert.equal(typeof back['downMs'], 'number');
});
