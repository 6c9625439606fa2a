// The rough edges a new operator hit, each met the way they met it: `node src/cli/bin.js …` as its own
// process, with no terminal unless a test gives it one (script(1) allocates a pty).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { RunStore } from '../../src/apply/run-store.ts';
import { setupNtfyLoop } from '../approve/ntfy-loop-fixture.ts';
import { setupLoop, TF_TWO } from '../e2e/loop-fixture.ts';
import { pushCommit } from '../git-fixtures.ts';
import { BIN, runCli } from '../support/cli-process.ts';
import { configYaml, deletePrefix, REDIS_URL, removeDir, tempDir, testPrefix, waitFor, waitForState } from '../support/harness.ts';
import { startPrivateRedis } from '../support/private-redis.ts';
import { makeRemote } from '../git-fixtures.ts';

const ANSI = /\x1b\[/;

/** Run a shell command line with a pseudo-terminal (util-linux script), so the CLI sees a TTY. */
function withTerminal(command: string, env: Record<string, string | undefined> = {}) {
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

const cli = (file: string, ...args: string[]) => `${process.execPath} ${BIN} ${args.join(' ')} --config ${file}`;

test('approve without a terminal needs --yes; a confirm-tier plan that only creates says why it needs --confirm', async (t) => {
  const loop = await setupLoop(t, { extra: { policy: { protected: ['terraform_data.a'] } } });
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha), ['awaiting_approval']);
  assert.equal(run.plan?.tier, 'confirm');
  assert.equal(run.plan?.summary.counts.delete, 0);

  // No terminal, no --yes: nothing is approved (it used to approve a plain plan without asking).
  const plainSha = await pushCommit(loop.remote, { 'main.tf': 'resource "terraform_data" "c" {\n  input = "c"\n}\n' }, { refs: ['refs/pull/2/head'] });
  await loop.runner.watcher.pollAll();
  const plain = await waitForState(loop.runner, loop.runId(plainSha), ['awaiting_approval']);
  assert.equal(plain.plan?.tier, 'approve');
  const unasked = await runCli(['approve', plain.id, '--config', loop.loaded.file]);
  assert.equal(unasked.code, 1, unasked.stdout + unasked.stderr);
  assert.match(unasked.stderr, /code: airlock:approve-needs-yes/);
  assert.equal((await loop.runner.cp.runs.get(plain.id)).state, 'awaiting_approval', 'nothing approved');
  const blind = await runCli(['approve', run.id, '--config', loop.loaded.file]);
  assert.equal(blind.code, 1, blind.stdout + blind.stderr);
  assert.match(blind.stderr, new RegExp(`^error: no terminal to ask on: approving run ${run.id} without asking needs --yes$`, 'm'));
  assert.match(blind.stderr, new RegExp(`next: Read \`airlock show ${run.id}\`, then run \`airlock approve ${run.id} --yes\` --confirm\\.`));
  assert.match(blind.stderr, /code: airlock:approve-needs-yes/);
  assert.equal((await loop.runner.cp.runs.get(run.id)).state, 'awaiting_approval');

  // --yes without --confirm: refused with the policy's reason, not "destroys resources".
  const unconfirmed = await runCli(['approve', run.id, '--yes', '--config', loop.loaded.file]);
  assert.equal(unconfirmed.code, 1);
  assert.match(unconfirmed.stderr, /this plan needs an explicit confirmation \(tier confirm\): \[protect:terraform_data\.a\] protected: changing it needs confirmation: terraform_data\.a/);
  assert.doesNotMatch(unconfirmed.stderr, /destroy/);
  assert.equal((await loop.runner.cp.runs.get(run.id)).state, 'awaiting_approval');

  // At a terminal the prompt says the same, and asks for the number of changes (nothing is destroyed).
  const term = withTerminal(cli(loop.loaded.file, 'approve', run.id));
  t.after(() => void (term.child.exitCode === null && term.child.kill('SIGKILL')));
  await waitFor('the approve prompt', async () => term.output().includes('[y/N]'));
  term.child.stdin.write('y\n');
  await waitFor('the confirmation prompt', async () => term.output().includes('to confirm:'));
  assert.match(term.output(), /This plan needs a confirmation: \[protect:terraform_data\.a\] protected: changing it needs confirmation: terraform_data\.a\. Type 2 to confirm: /);
  term.child.stdin.write('2\n');
  assert.equal(await term.exited, 0, term.output());
  assert.match(term.output(), /approved run .*; the apply is queued \(decision by os:.* via the terminal channel, audited\)/);
  await waitForState(loop.runner, run.id, ['applied']);
});

test('runs piped into head ends quietly when head closes the pipe', async (t) => {
  const prefix = testPrefix();
  const root = await tempDir('epipe');
  const file = path.join(root, 'runner.yaml');
  await writeFile(file, configYaml({ remoteUrl: 'file:///nonexistent.git', dataDir: path.join(root, 'data'), prefix }));
  const redis = new Redis(REDIS_URL);
  t.after(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
    await removeDir(root);
  });
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

test('read-only commands create nothing and take no lock, while an approve holds the CLI chain; audit show names each chain', async (t) => {
  const redis = await startPrivateRedis();
  t.after(() => redis.stop());
  const loop = await setupLoop(t, { runnerId: 'lab-1', extra: { redis: { url: redis.url, prefix: 'airlock-ro' } } });
  const file = loop.loaded.file;
  const first = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const applied = await waitForState(loop.runner, loop.runId(first), ['awaiting_approval']);
  assert.equal((await runCli(['approve', applied.id, '--yes', '--config', file])).code, 0);
  await waitForState(loop.runner, applied.id, ['applied']);
  const second = await pushCommit(loop.remote, { 'main.tf': TF_TWO.replace('one', 'two') }, { refs: ['refs/pull/2/head'] });
  await loop.runner.watcher.pollAll();
  const pending = await waitForState(loop.runner, loop.runId(second), ['awaiting_approval']);
  // From here on only the CLI talks to this Redis.
  await loop.runner.stop();

  // An operator is reading the plan at an approve prompt: that process holds the CLI chain's lock.
  const approving = withTerminal(cli(file, 'approve', pending.id));
  t.after(() => void (approving.child.exitCode === null && approving.child.kill('SIGKILL')));
  await waitFor('the approve prompt', async () => approving.output().includes('[y/N]'));
  const dataDir = loop.loaded.config.runner.dataDir;
  const before = await snapshot(dataDir);
  assert.ok(before.some((e) => e.startsWith('audit/lab-1-cli.jsonl.lock ')), 'the approve holds the lock');
  const watcher = new Redis(redis.url);
  const monitor = await watcher.monitor();
  const commands: string[] = [];
  monitor.on('monitor', (_time: string, args: string[]) => commands.push(String(args[0]).toLowerCase()));

  const readOnly = [
    ['runs'],
    ['runs', '--json'],
    ['show', applied.id],
    ['show', applied.id, '--json'],
    ['audit', 'show', '--run', applied.id],
    ['audit', 'tail', '-n', '100'],
    ['audit', 'verify'],
    ['audit', 'check'],
  ];
  const outputs: Record<string, string> = {};
  for (const args of readOnly) {
    const r = await runCli([...args, '--config', file], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    outputs[args.join(' ')] = r.stdout;
  }
  monitor.disconnect();
  watcher.disconnect();
  assert.deepEqual(await snapshot(dataDir), before, 'no file created, changed or removed');
  const writes = commands.filter((c) => !['hello', 'ping', 'info', 'config', 'hmget', 'hget', 'zrevrange', 'client', 'select', 'monitor'].includes(c));
  assert.deepEqual([...new Set(writes)], [], 'only reads reached Redis');

  approving.child.stdin.write('n\n');
  assert.equal(await approving.exited, 1);
  assert.match(approving.output(), /not approved; nothing changed/);

  // Records of one run sit on two chains with their own seq numbers: each line names its chain.
  const shown = outputs[`audit show --run ${applied.id}`]!;
  assert.match(shown, /^ {2}chains: lab-1-cli\.jsonl \(the CLI on the runner host\), lab-1\.jsonl \(the runner\)$/m);
  assert.match(shown, /^lab-1\.jsonl#\d+ +\S+ +run\.sighted +runner:lab-1 /m);
  assert.match(shown, /^lab-1-cli\.jsonl#1 +\S+ +approval\.granted +human:os:/m);
  // The audit actor is the runner's id, never the default "airlock".
  assert.doesNotMatch(shown + outputs['audit tail -n 100'], /runner:airlock/);
  // audit check: the configured channel is terminal, so the terminal decision is not break-glass.
  assert.match(outputs['audit check']!, /^no findings in \d+ records on 2 chain\(s\)$/m);
});

test('a decision at the terminal beside ntfy is break-glass: audit check reports it', async (t) => {
  const { loop } = await setupNtfyLoop(t);
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/3/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha), ['awaiting_approval']);
  const approved = await runCli(['approve', run.id, '--yes', '--config', loop.loaded.file]);
  assert.equal(approved.code, 0, approved.stderr);
  assert.match(approved.stdout, /\(break-glass decision by os:.*, audited\)/);
  const check = await runCli(['audit', 'check', '--config', loop.loaded.file]);
  assert.equal(check.code, 1, check.stdout);
  assert.match(check.stdout, new RegExp(`^break-glass +test-cli\\.jsonl seq 1 .*run ${run.id}: approval\\.granted by os:.* \\(break-glass\\), bypassing the ntfy channel$`, 'm'));
});

test('NO_COLOR turns colour off at a terminal; --version prints the version', async (t) => {
  const loop = await setupLoop(t);
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha), ['awaiting_approval']);
  const coloured = withTerminal(cli(loop.loaded.file, 'show', run.id), { NO_COLOR: undefined });
  assert.equal(await coloured.exited, 0, coloured.output());
  assert.match(coloured.output(), ANSI, 'a terminal gets colour by default');
  const plain = withTerminal(cli(loop.loaded.file, 'show', run.id), { NO_COLOR: '1' });
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
  const root = await tempDir('durations');
  const remote = await makeRemote();
  const prefix = testPrefix();
  t.after(async () => {
    await deletePrefix(prefix);
    await remote.cleanup();
    await removeDir(root);
  });
  const file = path.join(root, 'runner.yaml');
  const write = (ttl: string) => writeFile(file, configYaml({ remoteUrl: remote.url, dataDir: path.join(root, 'data'), prefix, extra: { approval: { channel: 'terminal', ttl } } }));
  await write('1h30m');
  const good = await runCli(['doctor', '--config', file]);
  assert.equal(good.code, 0, good.stdout);
  assert.match(good.stdout, /✔ applies: enabled; approvals via terminal, expiring after 90 min/);
  await write('30m1h');
  const bad = await runCli(['doctor', '--config', file]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /`approval\.ttl` must be a duration like "15m" \(whole numbers with units d, h, m, s or ms, largest first; compound durations like "1h30m" are fine\), got `"30m1h"`/);
});

/** Every entry under `dir` with its size and modification time: any write shows up. */
async function snapshot(dir: string): Promise<string[]> {
  const entries: string[] = [];
  const walk = async (sub: string) => {
    for (const name of (await readdir(path.join(dir, sub))).sort()) {
      const rel = sub ? `${sub}/${name}` : name;
      const s = await stat(path.join(dir, rel));
      entries.push(`${rel} ${s.isDirectory() ? 'dir' : s.size} ${s.mtimeMs}`);
      if (s.isDirectory()) await walk(rel);
    }
  };
  await walk('');
  return entries;
}
