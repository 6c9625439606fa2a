// Failures become specific domain errors: stale plans, held locks, missing binaries, bad config.
import assert from 'node:assert/strict';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { createEngine, EngineFailedError, PlanStaleError, StateLockedError } from '../../src/engine/engine.ts';
import { hasCode } from '../../src/errors.ts';
import { holdStateLock, makeJob, needsDouble, specForTests } from './engine-under-test.ts';

const TWO = 'resource "terraform_data" "a" {\n  input = "one"\n}\n';

test('applying a plan after another apply changed the state → airlock:plan-stale', async (t) => {
  const job = await makeJob(t, TWO);
  const engine = createEngine(specForTests());
  await engine.init(job.call);
  const first = job.at('first.tfplan');
  const second = job.at('second.tfplan');
  assert.equal((await engine.plan(job.call, first)).changes, true);
  assert.equal((await engine.plan(job.call, second)).changes, true);
  await engine.apply(job.call, second);
  const stateBefore = await readFile(job.at('ws', 'terraform.tfstate'), 'utf8');

  const err = await engine.apply(job.call, first).then(() => assert.fail('the stale plan was applied'), (e: unknown) => e);
  assert.ok(err instanceof PlanStaleError, String(err));
  assert.equal(err.code, 'airlock:plan-stale');
  assert.equal(err.reason, 'serial');
  assert.equal(err.step, 'apply');
  assert.match(err.outputTail, /Saved plan is stale/);
  assert.equal(await readFile(job.at('ws', 'terraform.tfstate'), 'utf8'), stateBefore, 'state untouched');
});

test('a plan made against another state lineage → airlock:plan-stale (lineage)', async (t) => {
  const job = await makeJob(t, TWO);
  const engine = createEngine(specForTests());
  await engine.init(job.call);
  await engine.plan(job.call, job.at('a.tfplan'));
  await engine.apply(job.call, job.at('a.tfplan'));
  await job.writeConfig('resource "terraform_data" "a" {\n  input = "two"\n}\n');
  await engine.plan(job.call, job.at('old-lineage.tfplan'));
  // The state is replaced by a fresh one: same config, new lineage.
  await rm(job.at('ws', 'terraform.tfstate'));
  await engine.plan(job.call, job.at('fresh.tfplan'));
  await engine.apply(job.call, job.at('fresh.tfplan'));

  await assert.rejects(engine.apply(job.call, job.at('old-lineage.tfplan')), (err: unknown) => {
    assert.ok(err instanceof PlanStaleError, String(err));
    assert.equal(err.reason, 'lineage');
    return true;
  });
});

test('a held state lock → airlock:state-locked with the lock parsed', async (t) => {
  const job = await makeJob(t, TWO);
  const engine = createEngine(specForTests({ lockTimeoutMs: 0 }));
  await engine.init(job.call);
  const holder = await holdStateLock(job);
  t.after(() => holder.release());

  const err = await engine.plan(job.call, job.at('p.tfplan')).then(() => assert.fail('planned under a held lock'), (e: unknown) => e);
  assert.ok(err instanceof StateLockedError, String(err));
  assert.equal(err.code, 'airlock:state-locked');
  assert.equal(err.lockInfo?.id, holder.lockId);
  assert.equal(err.lockInfo?.operation, 'OperationTypeApply');
  assert.equal(err.lockInfo?.path, 'terraform.tfstate');
  assert.match(err.lockInfo?.created ?? '', /^\d{4}-\d{2}-\d{2} /);
  assert.ok(err.message.includes(holder.lockId), err.message);
  assert.ok(err.message.includes(`terraform force-unlock ${holder.lockId}`), err.message);

  await holder.release();
  assert.equal((await engine.plan(job.call, job.at('p.tfplan'))).changes, true, 'plans once the lock is released');
});

test('a missing binary → airlock:engine-not-found with a hint', async (t) => {
  const job = await makeJob(t, TWO);
  const engine = createEngine(specForTests({ binary: job.at('no-such-terraform') }));
  await assert.rejects(engine.init(job.call), (err: Error & { hint?: string }) => {
    assert.ok(hasCode(err, 'airlock:engine-not-found'), `${(err as { code?: string }).code}: ${err.message}`);
    assert.ok(err.message.includes(job.at('no-such-terraform')));
    assert.match(err.hint ?? '', /engine\.binary/);
    return true;
  });
  await assert.rejects(createEngine(specForTests({ binary: 'airlock-no-such-engine' })).version(), (err) => hasCode(err, 'airlock:engine-not-found'));
});

test('a configuration error → airlock:engine-failed with exit code and output tail', async (t) => {
  const job = await makeJob(t, 'resource "terraform_data" "a" {\n  bogus = 1\n}\n');
  const engine = createEngine(specForTests());
  const err = await engine.init(job.call).then(() => engine.plan(job.call, job.at('p.tfplan'))).then(() => assert.fail('bad config planned'), (e: unknown) => e);
  assert.ok(err instanceof EngineFailedError, String(err));
  assert.equal(err.code, 'airlock:engine-failed');
  assert.equal(err.exitCode, 1);
  assert.match(err.outputTail, /Unsupported argument/);
  assert.ok(err.outputTail.length <= 4096);
});

test('a corrupt plan file fails apply and show, and leaves no partial JSON', async (t) => {
  const job = await makeJob(t, TWO);
  const engine = createEngine(specForTests());
  await engine.init(job.call);
  await writeFile(job.at('bad.tfplan'), 'not a plan');
  await assert.rejects(engine.apply(job.call, job.at('bad.tfplan')), (err: unknown) => err instanceof EngineFailedError && err.step === 'apply');
  await assert.rejects(engine.showJson(job.call, job.at('bad.tfplan'), job.at('bad.json')), (err: unknown) => err instanceof EngineFailedError && err.step === 'show');
  await assert.rejects(stat(job.at('bad.json')), { code: 'ENOENT' });
  await assert.rejects(stat(job.at('ws', 'terraform.tfstate')), { code: 'ENOENT' }, 'nothing applied');
});

test('a refused variable stops the run before any process starts', async (t) => {
  const job = await makeJob(t, TWO);
  // With a binary that does not exist, spawning would fail as engine-not-found: the env check wins.
  const engine = createEngine(specForTests({ binary: job.at('no-such-terraform'), env: { TF_CLI_ARGS_plan: '-lock=false' } }));
  await assert.rejects(engine.plan(job.call, job.at('p.tfplan')), (err) => hasCode(err, 'airlock:engine-env'));
  await assert.rejects(stat(job.call.homeDir), { code: 'ENOENT' }, 'not even HOME was prepared');
});

test('each step runs the engine exactly once (invocation log)', { skip: needsDouble }, async (t) => {
  const job = await makeJob(t, TWO);
  const invocations = job.at('invocations.jsonl');
  const engine = createEngine(specForTests({ env: { AIRLOCK_DOUBLE_LOG: invocations } }));
  await engine.init(job.call);
  await engine.plan(job.call, job.at('p.tfplan'));
  await engine.showJson(job.call, job.at('p.tfplan'), job.at('p.json'));
  await engine.apply(job.call, job.at('p.tfplan'));
  const lines = (await readFile(invocations, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { argv: string[]; cwd: string });
  assert.deepEqual(lines.map((l) => l.argv), [
    ['init', '-input=false', '-no-color'],
    ['plan', '-input=false', '-no-color', '-detailed-exitcode', '-lock-timeout=0s', `-out=${job.at('p.tfplan')}`],
    ['show', '-json', '-no-color', job.at('p.tfplan')],
    ['apply', '-input=false', '-no-color', '-lock-timeout=0s', job.at('p.tfplan')],
  ]);
  assert.ok(lines.every((l) => l.cwd === job.cwd));
});

test('an injected failure on apply is an engine failure, not a retry', { skip: needsDouble }, async (t) => {
  const job = await makeJob(t, TWO);
  const invocations = job.at('invocations.jsonl');
  const engine = createEngine(specForTests({ env: { AIRLOCK_DOUBLE_LOG: invocations, AIRLOCK_DOUBLE_FAIL: 'apply', AIRLOCK_DOUBLE_STDERR: 'noise on stderr' } }));
  await engine.plan(job.call, job.at('p.tfplan'));
  const lines: string[] = [];
  await assert.rejects(engine.apply({ ...job.call, onLine: (l) => lines.push(l) }, job.at('p.tfplan')), (err: unknown) => {
    assert.ok(err instanceof EngineFailedError);
    assert.match(err.outputTail, /noise on stderr/);
    assert.match(err.outputTail, /Injected failure/);
    return true;
  });
  assert.ok(lines.includes('noise on stderr'));
  const applies = (await readFile(invocations, 'utf8')).trim().split('\n').filter((l) => JSON.parse(l).argv[0] === 'apply');
  assert.equal(applies.length, 1);
});

test('a missing working directory is named, not reported as a missing binary', async (t) => {
  const job = await makeJob(t, TWO);
  const engine = createEngine(specForTests());
  await assert.rejects(engine.init({ ...job.call, cwd: job.at('gone') }), (err) => hasCode(err, 'airlock:engine-cwd'));
});
