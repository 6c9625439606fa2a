// Timeouts, cancellation and signals stop the engine's whole process group, grandchildren included.
// These need the double's delay and grandchild knobs; real terraform_data finishes too fast to time out.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { test } from 'node:test';
import { createEngine, EngineKilledError, EngineTimeoutError } from '../../src/engine/engine.ts';
import { isProcessAlive, makeJob, needsDouble, specForTests, waitFor } from './engine-under-test.ts';

const CONFIG = 'resource "terraform_data" "a" {\n  input = "x"\n}\n';

async function readPid(file: string): Promise<number> {
  return waitFor(`a pid in ${file}`, async () => {
    const text = await readFile(file, 'utf8').catch(() => '');
    return /^\d+$/.test(text.trim()) ? Number(text) : 0;
  });
}

async function invokedPid(logFile: string, command: string): Promise<number> {
  return waitFor(`a ${command} invocation in ${logFile}`, async () => {
    const text = await readFile(logFile, 'utf8').catch(() => '');
    const line = text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { argv: string[]; pid: number }).find((l) => l.argv[0] === command);
    return line?.pid ?? 0;
  });
}

const assertDies = (pid: number, what: string) => waitFor(`${what} (pid ${pid}) to die`, () => !isProcessAlive(pid), 5000);

test('a timeout kills the process group, grandchild included', { skip: needsDouble }, async (t) => {
  const job = await makeJob(t, CONFIG);
  const sleepPid = job.at('grandchild.pid');
  const log = job.at('invocations.jsonl');
  const engine = createEngine(
    specForTests({
      timeouts: { init: 30_000, plan: 3000, show: 30_000, apply: 30_000, version: 30_000 },
      env: { AIRLOCK_DOUBLE_DELAY_MS: '600000', AIRLOCK_DOUBLE_SPAWN_SLEEP: sleepPid, AIRLOCK_DOUBLE_LOG: log },
    }),
  );
  const planning = engine.plan(job.call, job.at('p.tfplan'));
  const grandchild = await readPid(sleepPid);
  const double = await invokedPid(log, 'plan');
  assert.ok(isProcessAlive(grandchild), 'the grandchild runs while the plan runs');

  await assert.rejects(planning, (err: unknown) => {
    assert.ok(err instanceof EngineTimeoutError, String(err));
    assert.equal(err.code, 'airlock:engine-timeout');
    assert.equal(err.step, 'plan');
    assert.equal(err.timeoutMs, 3000);
    assert.match(err.message, /plan/);
    assert.match(err.message, /3000 ms/);
    return true;
  });
  await assertDies(grandchild, 'the grandchild sleep');
  await assertDies(double, 'the engine');
  // The double released its state lock on SIGTERM, as terraform does on interrupt.
  await assert.rejects(stat(job.at('ws', '.terraform.tfstate.lock.info')), { code: 'ENOENT' });
});

test('an engine that ignores SIGTERM is SIGKILLed after the grace period', { skip: needsDouble }, async (t) => {
  const job = await makeJob(t, CONFIG);
  const log = job.at('invocations.jsonl');
  const engine = createEngine(
    specForTests({
      timeouts: { init: 30_000, plan: 2000, show: 30_000, apply: 30_000, version: 30_000 },
      killGraceMs: 300,
      env: { AIRLOCK_DOUBLE_DELAY_MS: '600000', AIRLOCK_DOUBLE_IGNORE_SIGTERM: '1', AIRLOCK_DOUBLE_LOG: log },
    }),
  );
  const planning = engine.plan(job.call, job.at('p.tfplan'));
  const double = await invokedPid(log, 'plan');
  await assert.rejects(planning, (err: unknown) => err instanceof EngineTimeoutError);
  await assertDies(double, 'the SIGTERM-ignoring engine');
});

test('aborting the signal cancels the step and kills the group', { skip: needsDouble }, async (t) => {
  const job = await makeJob(t, CONFIG);
  const sleepPid = job.at('grandchild.pid');
  const engine = createEngine(specForTests({ env: { AIRLOCK_DOUBLE_DELAY_MS: '600000', AIRLOCK_DOUBLE_SPAWN_SLEEP: sleepPid } }));
  const controller = new AbortController();
  const applying = engine.plan({ ...job.call, signal: controller.signal }, job.at('p.tfplan'));
  const grandchild = await readPid(sleepPid);
  controller.abort(new Error('operator cancelled'));
  await assert.rejects(applying, (err: unknown) => {
    assert.ok(err instanceof EngineKilledError, String(err));
    assert.equal(err.code, 'airlock:engine-killed');
    assert.equal(err.cancelled, true);
    assert.match(err.message, /cancelled/);
    return true;
  });
  await assertDies(grandchild, 'the grandchild sleep');
});

test('an already-aborted signal starts no process', async (t) => {
  const job = await makeJob(t, CONFIG);
  const engine = createEngine(specForTests({ binary: job.at('no-such-terraform') }));
  await assert.rejects(engine.init({ ...job.call, signal: AbortSignal.abort() }), (err: unknown) => err instanceof EngineKilledError && err.cancelled);
});

test('an engine killed from outside → airlock:engine-killed with the signal', { skip: needsDouble }, async (t) => {
  const job = await makeJob(t, CONFIG);
  const log = job.at('invocations.jsonl');
  const engine = createEngine(specForTests({ env: { AIRLOCK_DOUBLE_DELAY_MS: '600000', AIRLOCK_DOUBLE_LOG: log } }));
  const planning = engine.plan(job.call, job.at('p.tfplan'));
  process.kill(await invokedPid(log, 'plan'), 'SIGKILL');
  await assert.rejects(planning, (err: unknown) => {
    assert.ok(err instanceof EngineKilledError, String(err));
    assert.equal(err.signal, 'SIGKILL');
    assert.equal(err.cancelled, false);
    return true;
  });
});

test('a grandchild left behind by a successful step is reaped', { skip: needsDouble }, async (t) => {
  const job = await makeJob(t, CONFIG);
  const sleepPid = job.at('grandchild.pid');
  const engine = createEngine(specForTests({ env: { AIRLOCK_DOUBLE_SPAWN_SLEEP: sleepPid } }));
  assert.equal((await engine.plan(job.call, job.at('p.tfplan'))).changes, true);
  await assertDies(await readPid(sleepPid), 'the orphaned grandchild');
});
