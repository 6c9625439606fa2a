// A real runner process and real CLI processes send their spans to an in-process OTLP/HTTP receiver: one
// trace per run, whichever process wrote a span (the apply's runner, the approving CLI, the denying CLI),
// with the span tree and the attributes the run record says.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { connectRedis } from '../../src/queue/queues.ts';
import { RunStore } from '../../src/run/run-store.ts';
import { deriveRunId, type Run } from '../../src/run/run.ts';
import { makeRemote, pushCommit } from '../git-fixtures.ts';
import { runCli } from '../support/cli-process.ts';
import { spawnRunner, stopRunner } from '../support/spawn-runner.ts';
import { deletePrefix, removeDir, tempDir, testPrefix, waitFor, writeConfig } from '../support/harness.ts';
import { startOtlpReceiver, type ReceivedSpan } from '../doubles/otlp-receiver.ts';
import { TF_TWO } from '../e2e/loop-fixture.ts';
import { childNames, childOf, runSpan, traceOf } from './span-tree.ts';

const AGENT = { name: 'Infra Agent', email: 'agent@lab.internal' };
const PLAN_STEPS = ['checkout', 'guard', 'init', 'plan', 'show', 'summarize', 'tier', 'request'];

test('one trace per run across the runner and CLI processes: the span tree, the attributes, the run record', async (t) => {
  const receiver = await startOtlpReceiver();
  const root = await tempDir('traces-e2e');
  const remote = await makeRemote();
  const prefix = testPrefix();
  const loaded = await writeConfig({
    remoteUrl: remote.url,
    dataDir: path.join(root, 'data'),
    prefix,
    extra: { traces: { otlp: { endpoint: receiver.base }, exportDelay: '100ms' }, audit: { agents: { [AGENT.email]: 'claude' } } },
  });
  let runner: ChildProcess | undefined = await spawnRunner(loaded.file);
  const redis = connectRedis(loaded.config.redis.url);
  t.after(async () => {
    await stopRunner(runner);
    redis.disconnect();
    await receiver.close();
    await deletePrefix(prefix);
    await remote.cleanup();
    await removeDir(root);
  });
  const runs = new RunStore(redis, prefix);
  const stateOf = (id: string, states: Run['state'][]) => waitFor(`run ${id} in ${states.join('|')}`, async () => {
    const r = await runs.find(id);
    return r && states.includes(r.state) ? r : undefined;
  }, 120_000);
  const cli = async (...args: string[]) => {
    const res = await runCli([...args, '--config', loaded.file]);
    assert.equal(res.code, 0, res.stderr + res.stdout);
  };

  // Three runs: approved and applied, denied, refused by the guard.
  const applied = deriveRunId('infra', 'default', await pushCommit(remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'], author: AGENT }));
  const denied = deriveRunId('infra', 'default', await pushCommit(remote, { 'main.tf': TF_TWO.replace('one', 'uno') }, { refs: ['refs/pull/2/head'], author: AGENT }));
  const refused = deriveRunId('infra', 'default', await pushCommit(remote, { 'main.tf': TF_TWO, 'terraform.tfstate': '{}' }, { refs: ['refs/pull/3/head'] }));
  await stateOf(applied, ['awaiting_approval']);
  await stateOf(denied, ['awaiting_approval']);
  await cli('approve', applied, '--yes');
  await cli('deny', denied, '--yes');
  const appliedRun = await stateOf(applied, ['applied', 'failed']);
  assert.equal(appliedRun.state, 'applied', JSON.stringify(appliedRun.error));
  await stateOf(refused, ['refused']);
  const spans = await receiver.waitFor('the three runs\' own spans', (s) => [applied, denied, refused].every((id) => runSpan(s, id)));
  await stopRunner(runner); // flushes whatever the runner still held
  runner = undefined;

  // One trace per run, and its id is the run record's.
  const traces = [applied, denied, refused].map((id) => runSpan(spans, id)!.traceId);
  assert.equal(new Set(traces).size, 3, 'three runs, three traces');
  for (const id of [applied, denied, refused]) {
    const own = runSpan(spans, id)!;
    assert.equal(own.parentSpanId, null, 'the run span is the root');
    assert.equal((await runs.get(id)).traceparent, `00-${own.traceId}-${own.spanId}-01`, 'the traceparent on the run names the root');
    for (const s of traceOf(spans, own.traceId)) if (s.attributes['airlock.run.id'] !== undefined) assert.equal(s.attributes['airlock.run.id'], id, `${s.name} of ${id}`);
    assert.equal(spans.filter((s) => s.name === 'airlock run' && s.attributes['airlock.run.id'] === id).length, 1, 'written once');
  }

  // The applied run: plan job, decision wait (written by the approving CLI), apply job (apply, record).
  const run = runSpan(spans, applied)!;
  const all = traceOf(spans, run.traceId);
  assert.deepEqual(childNames(all, run), ['plan job', 'decision wait', 'apply job']);
  const planJob = childOf(all, run, 'plan job');
  assert.deepEqual(childNames(all, planJob), PLAN_STEPS);
  assert.deepEqual(childNames(all, childOf(all, run, 'apply job')), ['apply', 'record']);
  const wait = childOf(all, run, 'decision wait');
  assert.equal(wait.attributes['airlock.approver.kind'], 'human');
  assert.equal(wait.attributes['airlock.decision.outcome'], 'approved');
  assert.equal(wait.resource['service.instance.id'], 'test-cli', 'written by the CLI process that decided');
  assert.equal(planJob.resource['service.instance.id'], 'test', 'written by the runner process');
  assert.equal(wait.startMs, Date.parse(appliedRun.approval!.requestedAt));
  assert.equal(wait.endMs, Date.parse(appliedRun.decision!.at));
  assert.ok(all.every((s) => s.startMs <= s.endMs && s.status.code !== 2), 'no error in an applied run');
  const expected = {
    'gen_ai.agent.name': 'claude',
    'airlock.plan.tier': appliedRun.plan!.tier,
    'airlock.plan.sha256': appliedRun.plan!.sha256,
    'airlock.plan.changes.create': 2,
    'airlock.approver.kind': 'human',
    'airlock.run.state': 'applied',
    'vcs.ref.head.revision': appliedRun.sha,
    'vcs.change.id': '1',
  };
  for (const [key, value] of Object.entries(expected)) assert.equal(run.attributes[key], value, key);
  assert.equal(childOf(all, planJob, 'checkout').attributes['gen_ai.agent.name'], 'claude');
  assert.equal(childOf(all, planJob, 'tier').attributes['airlock.plan.sha256'], appliedRun.plan!.sha256);
  assert.equal(run.resource['service.name'], 'airlock');

  // The denied run ended in the CLI: its own span comes from there.
  const deniedRun = runSpan(spans, denied)!;
  assert.equal(deniedRun.resource['service.instance.id'], 'test-cli');
  assert.equal(deniedRun.attributes['airlock.decision'], 'deny');
  assert.deepEqual(childNames(traceOf(spans, deniedRun.traceId), deniedRun), ['plan job', 'decision wait']);

  // The refused run: the guard step failed with its code, the run too; no message anywhere.
  const refusedRun = runSpan(spans, refused)!;
  const refusedAll = traceOf(spans, refusedRun.traceId);
  const refusedJob = childOf(refusedAll, refusedRun, 'plan job');
  assert.deepEqual(childNames(refusedAll, refusedJob), ['checkout', 'guard']);
  const guard = childOf(refusedAll, refusedJob, 'guard');
  assert.equal(guard.status.code, 2);
  assert.equal(guard.attributes['error.type'], 'airlock:guard-refused');
  assert.equal(refusedRun.attributes['error.type'], 'airlock:guard-refused');
  assert.equal(refusedRun.attributes['gen_ai.agent.name'], undefined, 'no agent mapped for this author');
  assert.ok(spans.every((s: ReceivedSpan) => (s.status.message ?? '') === ''), 'no error message travels');
  assert.deepEqual(receiver.errors, []);
});
