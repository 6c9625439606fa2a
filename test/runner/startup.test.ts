// `airlock start` as systemd runs it, a real process: it checks the data dir, Redis and the engine before
// anything else and exits non-zero with a coded error that says what to do; a Redis that goes away later
// gets one log line per change of state, not a stack trace per reconnect attempt.
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { RunStore } from '../../src/run/run-store.ts';
import { deriveRunId } from '../../src/run/run.ts';
import { pushCommit } from '../git-fixtures.ts';
import { runCli, spawnCli } from '../support/cli-process.ts';
import { configFixture } from '../support/config-fixture.ts';
import { waitFor } from '../support/harness.ts';
import { freePort, startPrivateRedis } from '../support/private-redis.ts';
import { TF_TWO } from '../e2e/loop-fixture.ts';

const STACK_FRAME = /^\s+at .+\(?.*:\d+:\d+\)?$/m;

test('start with nothing listening at redis.url exits 1 at once with one coded error and no stack', async (t) => {
  const port = await freePort();
  const { file, dataDir } = await configFixture(t, { redis: { url: `redis://127.0.0.1:${port}`, prefix: 'airlock-startup' } });
  // The old runner never exited here; the kill turns that hang into a failure instead of a stuck suite.
  const r = await runCli(['start', '--config', file], { timeoutMs: 60_000 });
  assert.equal(r.code, 1, `exit code; stderr:\n${r.stderr}`);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`^error: cannot reach Redis at redis://127\\.0\\.0\\.1:${port}: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`, 'm'));
  assert.match(r.stderr, /^ {2}next: start Redis or fix `redis\.url` in .*runner\.yaml, then run `airlock doctor`$/m);
  assert.match(r.stderr, /^ {2}code: airlock:redis-unreachable$/m);
  assert.equal(r.stderr.trim().split('\n').length, 3, r.stderr);
  assert.doesNotMatch(r.stderr, STACK_FRAME);
  assert.deepEqual(await readdir(dataDir), [], 'nothing was opened before the checks: no audit chain');
});

test('start refuses a Redis that may evict keys (allkeys-lru) before BullMQ starts', async (t) => {
  const redis = await startPrivateRedis(['--maxmemory-policy', 'allkeys-lru']);
  t.after(() => redis.stop());
  const { file } = await configFixture(t, { redis: { url: redis.url, prefix: 'airlock-startup' } });
  const r = await runCli(['start', '--config', file], { timeoutMs: 60_000 });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^error: Redis has maxmemory-policy allkeys-lru: under memory pressure it would evict queue jobs, runs and approvals$/m);
  assert.match(r.stderr, /next: set `maxmemory-policy noeviction` in redis\.conf/);
  assert.match(r.stderr, /code: airlock:redis-evicts/);
  assert.doesNotMatch(r.stdout + r.stderr, /Eviction policy is allkeys-lru/, 'BullMQ never got to warn');
  const doctor = await runCli(['doctor', '--config', file], { timeoutMs: 60_000 });
  assert.equal(doctor.code, 1);
  assert.match(doctor.stdout, /^✖ redis maxmemory-policy: Redis has maxmemory-policy allkeys-lru/m);
});

test('start refuses an engine that is missing or is not terraform, naming engine.binary', async (t) => {
  const { file: missing } = await configFixture(t, { engine: { kind: 'terraform', binary: '/nonexistent/terraform' } });
  const a = await runCli(['start', '--config', missing], { timeoutMs: 60_000 });
  assert.equal(a.code, 1, a.stderr);
  assert.match(a.stderr, /code: airlock:engine-(not-found|unusable)/);
  assert.match(a.stderr, /engine\.binary/);
  const { file: wrong } = await configFixture(t, { engine: { kind: 'terraform', binary: '/bin/false' } });
  const b = await runCli(['start', '--config', wrong], { timeoutMs: 60_000 });
  assert.equal(b.code, 1, b.stderr);
  assert.match(b.stderr, /^error: the engine \/bin\/false does not run: /m);
  assert.match(b.stderr, /code: airlock:engine-unusable/);
  assert.doesNotMatch(a.stderr + b.stderr, STACK_FRAME);
});

test('start refuses a data dir it cannot use or that others can read', async (t) => {
  const { file, dataDir } = await configFixture(t, {});
  await writeFile(dataDir, 'not a directory');
  const a = await runCli(['start', '--config', file], { timeoutMs: 60_000 });
  assert.equal(a.code, 1, a.stderr);
  assert.match(a.stderr, /code: airlock:data-dir-unusable/);
  const { file: loose, dataDir: looseDir } = await configFixture(t, {});
  await mkdir(looseDir);
  await chmod(looseDir, 0o755);
  const b = await runCli(['start', '--config', loose], { timeoutMs: 60_000 });
  assert.equal(b.code, 1, b.stderr);
  assert.match(b.stderr, /has mode 755; plan files and state inside embed secrets/);
  assert.match(b.stderr, /next: chmod 700 /);
  assert.match(b.stderr, /code: airlock:data-dir-unsafe/);
});

test('a data dir under /proc (or led there by a symlink) is refused by doctor and start, which both exit', async (t) => {
  const { file } = await configFixture(t, {}, { dataDir: '/proc/airlock-test/data' });
  // Node's recursive mkdir spins forever under /proc; the old doctor never came back.
  const doctor = await runCli(['doctor', '--config', file], { timeoutMs: 60_000 });
  assert.equal(doctor.code, 1, doctor.stdout + doctor.stderr);
  assert.match(doctor.stdout, /✖ config: .*runner\.yaml: `runner\.dataDir` must not be under \/proc, \/sys or \/dev: \/proc is a kernel pseudo-filesystem, where nothing the runner writes is kept, got `"\/proc\/airlock-test\/data"`/);
  assert.match(doctor.stdout, /fix: Set `runner\.dataDir` in .* to a directory on a real disk/);
  const start = await runCli(['start', '--config', file], { timeoutMs: 60_000 });
  assert.equal(start.code, 1);
  assert.match(start.stderr, /code: airlock:config-invalid/);

  const { root } = await configFixture(t, {});
  await symlink('/proc/self', path.join(root, 'link'));
  const { file: viaLink } = await configFixture(t, {}, { dataDir: path.join(root, 'link', 'airlock') });
  const linked = await runCli(['doctor', '--config', viaLink], { timeoutMs: 60_000 });
  assert.equal(linked.code, 1, linked.stdout);
  assert.match(linked.stdout, /must not be under \/proc, \/sys or \/dev: \/proc is a kernel pseudo-filesystem, where nothing the runner writes is kept \(it leads to \/proc\/\d+\/airlock\)/);
});

test('Redis going away and coming back: one line each for lost, retrying and back; the runner plans again', async (t) => {
  const redis = await startPrivateRedis();
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
