// `airlock start` as systemd runs it, a real process: it checks the data dir, Redis and the engine before
// anything else and exits non-zero with a coded error that says what to do (a Redis outage later:
// redis-outage.test.ts).
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../support/cli-process.ts';
import { configFixture } from '../support/config-fixture.ts';
import { waitFor } from '../support/harness.ts';
import { freePort, startPrivateRedis } from '../support/private-redis.ts';

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
