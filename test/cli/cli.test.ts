// The `airlock` command as an operator meets it: exit codes, the doctor's lines, errors with a next step.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { main } from '../../src/cli/main.ts';
import type { Output } from '../../src/cli/output.ts';
import { configFixture } from '../support/config-fixture.ts';
import { sandboxedTests } from '../support/engine-under-test.ts';
import { FROM_SOURCE } from '../support/cli-process.ts';
import { removeDir, tempDir } from '../support/harness.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'src/cli/bin.js');

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const output: Output = { out: (s) => (out += `${s}\n`), err: (s) => (err += `${s}\n`), isTTY: false };
  const code = await main(['node', 'airlock', ...args], output);
  return { code, out, err };
}

test('doctor passes on a working setup and prints one line per check', async (t) => {
  const { file } = await configFixture(t);
  const r = await run('doctor', '--config', file);
  assert.equal(r.code, 0, r.out + r.err);
  for (const name of ['config', 'data dir', 'audit dir', 'redis', 'redis maxmemory-policy', 'redis data', 'engine', 'repo infra', 'applies']) {
    assert.match(r.out, new RegExp(`^✔ ${name}:`, 'm'), `${name} line in:\n${r.out}`);
  }
  assert.match(r.out, /all checks passed/);
  if (sandboxedTests()) {
    for (const name of ['bwrap', 'slirp4netns', 'sandbox \\(plan\\)', 'sandbox \\(apply\\)', 'provider mirror \\(plan\\)', 'provider mirror \\(apply\\)']) {
      assert.match(r.out, new RegExp(`^✔ ${name}:`, 'm'), `${name} line in:\n${r.out}`);
    }
    assert.match(r.out, /^✔ sandbox \(plan\): a trivial command ran in a sandbox as uid \d+ with slirp4netns/m);
  }
});

test('doctor warns loudly when the sandbox is off', async (t) => {
  const { file } = await configFixture(t, {}, { input: { sandbox: 'none' } });
  const r = await run('doctor', '--config', file);
  assert.match(r.out, /^! sandbox: engine\.sandbox is `none`: engine processes run WITHOUT the sandbox/m);
  assert.match(r.out, /fix: remove `engine.sandbox: none`/);
});

test('doctor fails when the sandbox users cannot read the provider mirror', { skip: (!sandboxedTests() && 'AIRLOCK_TEST_SANDBOX=none') || (process.getuid?.() !== 0 && 'needs a root runner') }, async (t) => {
  const { file, root } = await configFixture(t);
  const mirror = path.join(root, 'private-mirror');
  await mkdir(mirror, { mode: 0o700 });
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace(/^engine:\n/m, `engine:\n  providers:\n    mirror: ${mirror}\n    fill: never\n`));
  const r = await run('doctor', '--config', file);
  assert.equal(r.code, 1);
  assert.match(r.out, new RegExp(`^✖ provider mirror \\(plan\\): ${mirror} is not readable by the plan sandbox user`, 'm'));
  assert.match(r.out, /fix: chmod -R a\+rX /);
});

test('doctor names what is wrong and how to fix it', async (t) => {
  const { file, dataDir } = await configFixture(t, { redis: { url: 'redis://127.0.0.1:1', prefix: 'x' } });
  await mkdir(dataDir, { recursive: true });
  await chmod(dataDir, 0o755);
  const r = await run('doctor', '--config', file);
  assert.equal(r.code, 1);
  assert.match(r.out, /^✖ redis: cannot reach Redis at redis:\/\/127\.0\.0\.1:1: connect ECONNREFUSED 127\.0\.0\.1:1$/m);
  assert.match(r.out, /fix: start Redis or fix `redis.url`/);
  assert.match(r.out, /^✖ data dir: .* has mode 755/m);
  assert.match(r.out, /fix: chmod 700 /);
  assert.match(r.out, /2 check\(s\) failed/);
});

test('doctor on a broken config names the key and value, and stops there', async (t) => {
  const root = await tempDir('cli-bad');
  t.after(() => removeDir(root));
  const file = path.join(root, 'bad.yaml');
  await writeFile(file, 'approval:\n  ttl: soon\n');
  const r = await run('doctor', '--config', file);
  assert.equal(r.code, 1);
  assert.match(r.out, /✖ config: .*bad\.yaml: `approval\.ttl` must be a duration like "15m" \(.*compound durations like "1h30m" are fine\), got `"soon"`/);
  assert.doesNotMatch(r.out, /redis/);
});

test('runs, show and approve on unknown things fail with a next step', async (t) => {
  const { file } = await configFixture(t);
  const runs = await run('runs', '--json', '--config', file);
  assert.equal(runs.code, 0);
  assert.deepEqual(JSON.parse(runs.out), []);
  const show = await run('show', 'r000000000000000', '--config', file);
  assert.equal(show.code, 1);
  assert.match(show.err, /error: no run "r000000000000000"/);
  assert.match(show.err, /next: List runs with `airlock runs`/);
  const approve = await run('approve', 'r000000000000000', '--yes', '--config', file);
  assert.equal(approve.code, 1);
  assert.match(approve.err, /no run/);
});

test('a missing config file is named, with what to do', async () => {
  const r = await run('runs', '--config', '/nonexistent/runner.yaml');
  assert.equal(r.code, 1);
  assert.match(r.err, /\/nonexistent\/runner\.yaml: the file does not exist/);
  assert.match(r.err, /next: Start from the commented example: `cp \/.*\/runners\/example\.yaml \/nonexistent\/runner\.yaml`/);
});

test('usage errors exit 2; help exits 0', async () => {
  assert.equal((await run('frobnicate')).code, 2);
  assert.equal((await run('approve')).code, 2);
  const help = await run('--help');
  assert.equal(help.code, 0);
  assert.match(help.out, /doctor/);
});

test('the README demo command runs to an applied plan without a terminal, from any directory', async (t) => {
  // Outside the checkout: the demo finds its own runners/demo.yaml.
  const cwd = await tempDir('demo-cwd');
  t.after(() => removeDir(cwd));
  const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'demo'], { cwd, env: { ...process.env, ...FROM_SOURCE }, timeout: 150_000 });
  assert.match(stdout, /run r[0-9a-f]{15}: awaiting_approval/);
  assert.match(stdout, /\+\s+terraform_data\.vm/);
  assert.match(stdout, /approval\.granted\s+by human:os:/);
  assert.match(stdout, /apply\.finished/);
  assert.match(stdout, /demo finished: the run was applied\./);
});
