// Seeded canaries: a secret in the runner's own environment never reaches the engine, and a secret the
// runner has loaded never appears in any output, even when the engine prints it and an apply fails on it.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { scrubber } from '../../src/log/scrub.ts';
import { pushCommit } from '../git-fixtures.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { waitForState } from '../support/harness.ts';
import { setupLoop, TF_TWO } from './loop-fixture.ts';
import { freePort } from '../metrics/scrape.ts';

const RUNNER_ENV_CANARY = 'runner-env-canary-5d2f8e71';
const LOADED_SECRET = 'loaded-secret-canary-9a4c33b0';

test('the runner environment never reaches the engine, and loaded secrets reach no output', { skip: !engineForTests().isDouble && 'needs the double to print and dump' }, async (t) => {
  process.env['AIRLOCK_RUNNER_CANARY'] = RUNNER_ENV_CANARY;
  process.env['TF_VAR_leak'] = RUNNER_ENV_CANARY;
  process.env['TF_CLI_ARGS'] = '-auto-approve';
  t.after(() => {
    delete process.env['AIRLOCK_RUNNER_CANARY'];
    delete process.env['TF_VAR_leak'];
    delete process.env['TF_CLI_ARGS'];
  });
  scrubber.add(LOADED_SECRET);
  const metricsPort = await freePort();
  const loop = await setupLoop(t, { engineEnv: { AIRLOCK_DOUBLE_STDERR: `the secret is ${LOADED_SECRET}`, AIRLOCK_DOUBLE_FAIL: 'apply' }, extra: { metrics: { listen: `127.0.0.1:${metricsPort}` } } });
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  await waitForState(loop.runner, id, ['awaiting_approval']);
  const approve = await loop.cli('approve', id, '--yes');
  const failed = await waitForState(loop.runner, id, ['failed', 'applied']);
  assert.equal(failed.state, 'failed', 'the double was told to fail the apply');

  // The engine saw none of the runner's environment.
  const dumps = await readdir(loop.envDumpDir);
  assert.ok(dumps.some((d) => d.startsWith('plan')) && dumps.some((d) => d.startsWith('apply')), dumps.join(','));
  for (const d of dumps) {
    const env = JSON.parse(await readFile(path.join(loop.envDumpDir, d), 'utf8')) as Record<string, string>;
    assert.ok(!JSON.stringify(env).includes(RUNNER_ENV_CANARY), `${d} holds the runner's canary`);
    assert.equal(env['TF_CLI_ARGS'], undefined, `${d} got TF_CLI_ARGS`);
    assert.equal(env['TF_IN_AUTOMATION'], '1');
  }

  // The loaded secret reached the engine's output, and no output of ours.
  const outputs: Record<string, string> = {
    log: loop.log.raw,
    approve: approve.out + approve.err,
    show: JSON.stringify(await loop.cli('show', id)),
    showJson: JSON.stringify(await loop.cli('show', id, '--json')),
    runsJson: JSON.stringify(await loop.cli('runs', '--json')),
    redis: JSON.stringify(await loop.runner.cp.redis.hgetall(`${loop.prefix}:run:${id}`)),
    error: JSON.stringify(failed.error),
    metrics: await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
  };
  assert.match(outputs['metrics']!, /^airlock_runs_finished_total\{kind="apply",state="failed"\} 1$/m, 'the metrics saw the run');
  for (const f of await readdir(loop.runner.cp.paths.auditDir)) outputs[`audit/${f}`] = await readFile(path.join(loop.runner.cp.paths.auditDir, f), 'utf8');
  assert.match(outputs['log']!, /the secret is \[scrubbed\]/, 'the engine output did pass through the log, scrubbed');
  for (const [where, text] of Object.entries(outputs)) {
    assert.ok(!text.includes(LOADED_SECRET), `the secret leaked into ${where}`);
    assert.ok(!text.includes(RUNNER_ENV_CANARY), `the runner canary leaked into ${where}`);
  }
});

test('a plan that fails while printing a loaded secret stores and shows no trace of it', { skip: !engineForTests().isDouble && 'needs the double to print and fail' }, async (t) => {
  scrubber.add(LOADED_SECRET);
  const loop = await setupLoop(t, { engineEnv: { AIRLOCK_DOUBLE_STDERR: `Error: token ${LOADED_SECRET} rejected`, AIRLOCK_DOUBLE_FAIL: 'plan' } });
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/2/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha), ['failed'], 60_000);
  assert.equal(run.error?.code, 'airlock:engine-failed');
  const stored = JSON.stringify(await loop.runner.cp.redis.hgetall(`${loop.prefix}:run:${run.id}`));
  assert.match(stored, /\[scrubbed\] rejected/, 'the engine output tail, with the secret scrubbed, is on the run');
  const shown = await loop.cli('show', run.id);
  assert.match(shown.out, /engine output \(last lines\)/);
  for (const text of [stored, shown.out, shown.err, loop.log.raw]) assert.ok(!text.includes(LOADED_SECRET));
});

test('a plan that fails with a loaded secret cut in half by the output tail stores and shows no fragment of it', { skip: !engineForTests().isDouble && 'needs the double to print and fail' }, async (t) => {
  scrubber.add(LOADED_SECRET);
  // The double prints the line, then 109 characters of its injected failure; the runner keeps the last 4096
  // characters of output, so this padding makes that window start 7 characters into the secret.
  const k = 7;
  const line = `token ${LOADED_SECRET}${'p'.repeat(4096 - 109 - LOADED_SECRET.length + k)}`;
  const printed = `${line}\n\nError: Injected failure (AIRLOCK_DOUBLE_FAIL=plan)\n\nThe Airlock terraform double was told to fail "plan".\n\n`;
  assert.ok(printed.slice(-4096).startsWith(LOADED_SECRET.slice(k)), 'a plain cut of this output starts inside the secret');
  const loop = await setupLoop(t, { engineEnv: { AIRLOCK_DOUBLE_STDERR: line, AIRLOCK_DOUBLE_FAIL: 'plan' } });
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/3/head'] });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha), ['failed'], 60_000);
  assert.match(run.error?.tail ?? '', /^\[scrubbed\]p+$/m, 'the tail starts where the secret was cut, scrubbed');
  const fragment = LOADED_SECRET.slice(k, k + 12);
  const texts = [JSON.stringify(await loop.runner.cp.redis.hgetall(`${loop.prefix}:run:${run.id}`)), (await loop.cli('show', run.id)).out, (await loop.cli('show', run.id, '--json')).out, loop.log.raw];
  for (const f of await readdir(loop.runner.cp.paths.auditDir)) texts.push(await readFile(path.join(loop.runner.cp.paths.auditDir, f), 'utf8'));
  for (const text of texts) assert.ok(!text.includes(fragment) && !text.includes(LOADED_SECRET), text.slice(0, 200));
});
