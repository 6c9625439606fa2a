// The runner's Redis ACL user, for real: the `user airlock …` line of deploy/redis.conf is applied to a
// temporary user on the shared Redis (scoped to a fresh test prefix), the runner connects as that user
// with its password read from a 0600 file, a whole plan → approve → apply loop runs through BullMQ, a key
// outside the prefix and an admin command are refused, and the password shows up in no output.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { main } from '../../src/cli/main.ts';
import { setupLoop, TF_TWO } from '../e2e/loop-fixture.ts';
import { pushCommit } from '../git-fixtures.ts';
import { REDIS_URL, removeDir, tempDir, testPrefix, waitForState, writeConfig } from '../support/harness.ts';
import { makeRemote } from '../git-fixtures.ts';
import { engineForTests } from '../support/engine-under-test.ts';

const REDIS_CONF = fileURLToPath(new URL('../../deploy/redis.conf', import.meta.url));

/** The runner user's rules from deploy/redis.conf, for a user and prefix of our own. */
async function runnerRules(prefix: string, passwordHash: string): Promise<string[]> {
  const line = (await readFile(REDIS_CONF, 'utf8')).split('\n').find((l) => l.startsWith('user airlock '));
  assert.ok(line, 'deploy/redis.conf defines the runner user');
  return line
    .split(/\s+/)
    .slice(2)
    .map((rule) => (rule.startsWith('#') ? `#${passwordHash}` : rule === '~airlock:*' ? `~${prefix}:*` : rule));
}

/** A temporary ACL user on the shared Redis, deleted after the test. */
async function aclUser(t: { after(fn: () => Promise<void>): void }, prefix: string, rules?: string[]) {
  const name = `airlock-test-${randomUUID()}`;
  const password = randomBytes(24).toString('hex');
  const admin = new Redis(REDIS_URL);
  await admin.call('ACL', 'SETUSER', name, 'reset', ...(rules ?? (await runnerRules(prefix, createHash('sha256').update(password).digest('hex')))), ...(rules ? [`>${password}`] : []));
  t.after(async () => {
    await admin.call('ACL', 'DELUSER', name);
    admin.disconnect();
  });
  return { name, password };
}

async function passwordFile(dir: string, password: string): Promise<string> {
  const file = path.join(dir, 'redis.password');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return file;
}

async function doctor(file: string): Promise<string> {
  let out = '';
  await main(['node', 'airlock', 'doctor', '--config', file], { out: (s) => (out += `${s}\n`), err: (s) => (out += `${s}\n`), isTTY: false });
  return out;
}

test('the runner works as the scoped ACL user of deploy/redis.conf; keys outside its prefix are refused', async (t) => {
  const prefix = testPrefix();
  const secrets = await tempDir('redis-acl-secret');
  t.after(() => removeDir(secrets));
  const user = await aclUser(t, prefix);
  const redis = { url: REDIS_URL, prefix, username: user.name, passwordFile: await passwordFile(secrets, user.password) };
  const loop = await setupLoop(t, { prefix, extra: { redis } });
  assert.ok(!(await readFile(loop.loaded.file, 'utf8')).includes(user.password), 'the password is not in the YAML');

  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  await waitForState(loop.runner, id, ['awaiting_approval']);
  const approved = await loop.cli('approve', id, '--yes');
  assert.equal(approved.code, 0, approved.out + approved.err);
  assert.equal((await waitForState(loop.runner, id, ['applied', 'failed'])).state, 'applied');

  // The runner's own connection is the ACL user: outside its prefix it can neither write nor read.
  const own = loop.runner.cp.redis;
  assert.equal(await own.call('ACL', 'WHOAMI'), user.name);
  const outside = `airlock-acl-outside-${randomUUID()}`;
  await assert.rejects(own.set(outside, 'x'), /NOPERM/);
  await assert.rejects(own.get(outside), /NOPERM/);
  await assert.rejects(own.call('CONFIG', 'GET', 'maxmemory-policy'), /NOPERM/);
  await assert.rejects(own.call('ACL', 'LIST'), /NOPERM/);
  await assert.rejects(own.publish('airlock-acl-channel', 'x'), /NOPERM/);
  assert.equal(await own.set(`${prefix}:acl-probe`, 'x'), 'OK', 'inside its prefix it may write');

  const report = await doctor(loop.loaded.file);
  assert.match(report, new RegExp(`^✔ redis: reachable at .* as user ${user.name}`, 'm'));
  assert.match(report, /^✔ redis acl: user .* is limited to keys under/m);
  assert.match(report, /^✔ redis maxmemory-policy: noeviction/m);

  // The password is in no output: logs, doctor, audit chain, run records.
  const audit = await Promise.all((await readdir(loop.runner.cp.paths.auditDir)).map((f) => readFile(path.join(loop.runner.cp.paths.auditDir, f), 'utf8').catch(() => '')));
  const records = JSON.stringify(await loop.runner.cp.runs.list());
  // The engine's environment (dumped by the double for each command) never carries it either.
  const dumps = await readdir(loop.envDumpDir).catch(() => [] as string[]);
  const engineEnv = (await Promise.all(dumps.map((f) => readFile(path.join(loop.envDumpDir, f), 'utf8')))).join('');
  if (engineForTests().isDouble) assert.ok(dumps.length > 0, 'the double dumped the engine environment');
  assert.ok(!JSON.stringify(process.env).includes(user.password), 'the runner never puts it in its environment');
  for (const [where, text] of Object.entries({ log: loop.log.raw, doctor: report, audit: audit.join(''), runs: records, 'engine environment': engineEnv })) {
    assert.ok(!text.includes(user.password), `the Redis password appears in the ${where}`);
  }
});

test('doctor: a user that reaches every key, a wrong password and a loose password file all fail with the fix', async (t) => {
  const prefix = testPrefix();
  const root = await tempDir('redis-acl-doctor');
  const remote = await makeRemote();
  t.after(async () => {
    await remote.cleanup();
    await removeDir(root);
  });
  // Negative control: the same check on a user allowed every key must not pass.
  const wide = await aclUser(t, prefix, ['on', '~*', '&*', '+@all', '-@dangerous', '+info']);
  const write = async (redis: Record<string, unknown>) => (await writeConfig({ remoteUrl: remote.url, dataDir: path.join(root, 'data'), prefix, extra: { redis: { url: REDIS_URL, prefix, ...redis } } })).file;

  const wideReport = await doctor(await write({ username: wide.name, passwordFile: await passwordFile(root, wide.password) }));
  assert.match(wideReport, new RegExp(`^✖ redis acl: user ${wide.name} can reach keys outside`, 'm'));
  assert.match(wideReport, /fix: limit .*resetkeys first/);

  await writeFile(path.join(root, 'redis.password'), 'not-the-password\n', { mode: 0o600 });
  const wrong = await doctor(await write({ username: wide.name, passwordFile: path.join(root, 'redis.password') }));
  assert.match(wrong, /^✖ redis: cannot reach .*WRONGPASS/m);
  assert.match(wrong, /fix: check `redis.username` and the password/);

  await writeFile(path.join(root, 'loose.password'), `${wide.password}\n`, { mode: 0o644 });
  const loose = await doctor(await write({ username: wide.name, passwordFile: path.join(root, 'loose.password') }));
  assert.match(loose, /^✖ redis password file: .*has mode 644/m);
  assert.match(loose, /fix: chmod 600/);
  for (const text of [wideReport, wrong, loose]) assert.ok(!text.includes(wide.password), 'the password is never printed');

  // The default user (no ACL) is a warning with the fix, not silence.
  const open = await doctor(await write({}));
  assert.match(open, /^! redis acl: connected as the default user/m);
});

test('a password inside redis.url is refused at load, naming the key', async (t) => {
  const root = await tempDir('redis-url-pw');
  t.after(() => removeDir(root));
  await assert.rejects(
    writeConfig({ remoteUrl: 'file:///x', dataDir: path.join(root, 'data'), prefix: testPrefix(), extra: { redis: { url: 'redis://airlock:s3cret-pw@127.0.0.1:6379' } } }),
    (err: Error) => /`redis\.url` must not hold a user or password: name the ACL user in `redis\.username`/.test(err.message) && !err.message.includes('s3cret-pw'),
  );
});
