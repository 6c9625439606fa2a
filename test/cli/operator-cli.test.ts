// The rough edges a new operator hit, each met the way they met it: `node src/cli/bin.js …` as its own
// process, with no terminal unless a test gives it one (script(1) allocates a pty).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { RunStore } from '../../src/run/run-store.ts';
import { setupLoop, TF_TWO } from '../e2e/loop-fixture.ts';
import { pushCommit } from '../git-fixtures.ts';
import { BIN, cliLine, runCli, withTerminal } from '../support/cli-process.ts';
import { configFixture } from '../support/config-fixture.ts';
import { REDIS_URL, removeDir, tempDir, waitForState } from '../support/harness.ts';

const ANSI = /\x1b\[/;

test('runs piped into head ends quietly when head closes the pipe', async (t) => {
  const { file, prefix } = await configFixture(t);
  const redis = new Redis(REDIS_URL);
  t.after(() => redis.disconnect());
  // 100 runs with long refs: far more than a pipe holds, so the CLI is still writing when head exits.
  const runs = new RunStore(redis, prefix);
  for (let i = 0; i < 100; i++) {
    await runs.create({ repo: 'infra', ref: `refs/heads/agent/${'x'.repeat(2000)}-${i}`, pr: null, sha: i.toString(16).padStart(40, '0'), workspace: 'default', seenAt: Date.now() + i });
  }
  for (const args of ['runs --json', 'runs']) {
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const sh = spawn('bash', ['-c', `${process.execPath} ${BIN} ${args} --config ${file} | head -c 100 >/dev/null; echo "airlock-exit=\${PIPESTATUS[0]}"`]);
      let out = '';
      let err = '';
      sh.stdout.on('data', (d: Buffer) => (out += d.toString()));
      sh.stderr.on('data', (d: Buffer) => (err += d.toString()));
      sh.once('close', (code) => resolve({ code, out, err }));
    });
    assert.equal(r.out.trim(), 'airlock-exit=0', `${args}: ${r.err}`);
    assert.equal(r.err, '', `${args}: nothing on stderr (no EPIPE stack)`);
  }
});

test('NO_COLOR turns colour off at a terminal; --version prints the version', async (t) => {
  const loop = await setupLoop(t);
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha), ['awaiting_approval']);
  const coloured = withTerminal(cliLine(loop.loaded.file, 'show', run.id), { NO_COLOR: undefined });
  assert.equal(await coloured.exited, 0, coloured.output());
  assert.match(coloured.output(), ANSI, 'a terminal gets colour by default');
  const plain = withTerminal(cliLine(loop.loaded.file, 'show', run.id), { NO_COLOR: '1' });
  assert.equal(await plain.exited, 0, plain.output());
  assert.match(plain.output(), /terraform_data\.a/);
  assert.doesNotMatch(plain.output(), ANSI);

  const version = await runCli(['--version']);
  assert.equal(version.code, 0);
  assert.equal(version.stdout.trim(), '0.1.0');
});

test('a missing config points at the shipped example, from any directory', async (t) => {
  const dir = await tempDir('no-config');
  t.after(() => removeDir(dir));
  const r = await runCli(['runs'], { cwd: dir, env: { AIRLOCK_CONFIG: undefined } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: runners\/airlock\.yaml: the file does not exist$/m);
  const example = /`cp (\S+) runners\/airlock\.yaml`/.exec(r.stderr)?.[1];
  assert.ok(example, r.stderr);
  assert.ok((await stat(example)).isFile(), `${example} exists`);
  assert.match(example, /\/runners\/example\.yaml$/);
});

test('durations like 1h30m are accepted; a bad one says compound durations are fine', async (t) => {
  const good = await configFixture(t, { approval: { channel: 'terminal', ttl: '1h30m' } });
  const accepted = await runCli(['doctor', '--config', good.file]);
  assert.equal(accepted.code, 0, accepted.stdout);
  assert.match(accepted.stdout, /✔ applies: enabled; approvals via terminal, expiring after 90 min/);
  const bad = await configFixture(t, { approval: { channel: 'terminal', ttl: '30m1h' } });
  const refused = await runCli(['doctor', '--config', bad.file]);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /`approval\.ttl` must be a duration like "15m" \(whole numbers with units d, h, m, s or ms, largest first; compound durations like "1h30m" are fine\), got `"30m1h"`/);
});
