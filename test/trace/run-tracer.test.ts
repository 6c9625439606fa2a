// When the spans of a run start and end, with a recording sink and runs kept in memory: the plan job gives
// the run its trace context once; steps hang under their job; the decision wait and the apply take their
// times from the run record; the run's own span is written once, when it is final, with its pinned ids.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { Run } from '../../src/run/run.ts';
import type { RunMoved } from '../../src/run/transitions.ts';
import { createRunTracer } from '../../src/trace/run-tracer.ts';
import { parseTraceparent, type SpanAttributes, type SpanRef, type SpanSink } from '../../src/trace/trace.ts';

interface Recorded {
  name: string;
  ref: SpanRef;
  parent?: SpanRef;
  pin?: SpanRef;
  startMs?: number;
  endMs?: number;
  attributes: SpanAttributes;
  errorType?: string;
  ended: boolean;
}

function recordingSink(): SpanSink & { spans: Recorded[] } {
  const spans: Recorded[] = [];
  let n = 0;
  return {
    spans,
    start(name, options) {
      const ref = options.pin ?? { traceId: options.parent!.traceId, spanId: (++n).toString(16).padStart(16, '0') };
      const span: Recorded = { name, ref, ...options, attributes: { ...options.attributes }, ended: false };
      spans.push(span);
      return {
        ref,
        end(end = {}) {
          assert.equal(span.ended, false, `${name} ended twice`);
          Object.assign(span.attributes, end.attributes);
          span.endMs = end.endMs;
          span.errorType = end.errorType;
          span.ended = true;
        },
      };
    },
    shutdown: async () => undefined,
  };
}

function memoryRuns(initial: Run) {
  const store = new Map([[initial.id, structuredClone(initial)]]);
  let updates = 0;
  return {
    store,
    updates: () => updates,
    find: async (id: string) => structuredClone(store.get(id) ?? null),
    update: async (id: string, change: (run: Run) => Run | null) => {
      const next = change(structuredClone(store.get(id)!));
      if (next) {
        updates++;
        store.set(id, next);
      }
      return next;
    },
  };
}

const RUN: Run = {
  id: 'r0123456789abcde',
  repo: 'infra',
  ref: 'refs/pull/7/head',
  pr: 7,
  sha: 'c0ffee'.padEnd(40, '0'),
  workspace: 'default',
  state: 'planning',
  version: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

const silent = pino({ level: 'silent' });
const moved = (run: Run, from: RunMoved['from'], to: RunMoved['to']): RunMoved => ({ run: { ...run, state: to }, from, to, type: `run.${to}`, actor: { kind: 'runner', id: 'airlock' } });

test('a run from before traces gets its trace context from its plan job, once; steps hang under the job; a retry joins the same trace', async () => {
  const sink = recordingSink();
  const runs = memoryRuns(RUN);
  const tracer = createRunTracer(sink, { runs, log: silent });
  await tracer.job('plan', (await runs.find(RUN.id))!, async () => {
    const end = tracer.step(RUN.id, 'checkout')!;
    end({ ...RUN, agent: 'claude' });
    tracer.step(RUN.id, 'guard')!({ ...RUN }, Object.assign(new Error('refused'), { code: 'airlock:guard-refused' }));
  });
  const root = parseTraceparent(runs.store.get(RUN.id)!.traceparent);
  assert.ok(root, 'the run now carries a sampled traceparent');
  await assert.rejects(tracer.job('plan', (await runs.find(RUN.id))!, async () => Promise.reject(new TypeError('boom'))));
  assert.equal(runs.updates(), 1, 'set once: the retry reads it back');

  const [job1, checkout, guard, job2] = sink.spans;
  assert.deepEqual([job1!.name, checkout!.name, guard!.name, job2!.name], ['plan job', 'checkout', 'guard', 'plan job']);
  assert.deepEqual(job1!.parent, root);
  assert.deepEqual(job2!.parent, root);
  assert.deepEqual(checkout!.parent, job1!.ref);
  assert.equal(checkout!.attributes['gen_ai.agent.name'], 'claude');
  assert.equal(guard!.errorType, 'airlock:guard-refused');
  assert.equal(job2!.errorType, 'TypeError', 'an uncoded error is its class, never its message');
  assert.ok(sink.spans.every((s) => s.ended));
  assert.equal(tracer.step(RUN.id, 'checkout'), undefined, 'no job, no step span');
});

test('the decision wait and the apply take their times from the run; the run span is written once, when final, after its job', async () => {
  const sink = recordingSink();
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const root = parseTraceparent(traceparent)!;
  const planned: Run = {
    ...RUN,
    traceparent,
    agent: 'claude',
    plan: { sha256: 'ab'.repeat(32), tier: 'approve', reasons: [], engineVersion: '1.11.4', treeId: 'f'.repeat(40), summary: { counts: { create: 2, update: 0, delete: 1, replace: 0, forget: 0, read: 0, noop: 0, sneaky: 5 } } as unknown as NonNullable<Run['plan']>['summary'] },
    approval: { requestedAt: '2026-01-01T00:01:00.000Z', expiresAt: '2026-01-01T00:16:00.000Z', tier: 'approve', channel: 'ntfy' },
    decision: { decision: 'approve', by: { kind: 'human', id: 'ntfy:alice' }, channel: 'ntfy', breakGlass: false, at: '2026-01-01T00:03:00.000Z', planSha256: 'ab'.repeat(32) },
  };
  const runs = memoryRuns(planned);
  const tracer = createRunTracer(sink, { runs, log: silent });
  tracer.onMove(moved(planned, 'awaiting_approval', 'approved'));
  const applying = { ...planned, apply: { startedAt: '2026-01-01T00:04:00.000Z', finishedAt: '2026-01-01T00:04:30.000Z', fence: 1, runnerId: 'a', host: 'h', pid: 1 } };
  await tracer.job('apply', applying, async () => {
    tracer.onMove(moved(applying, 'applying', 'applied'));
    assert.equal(sink.spans.filter((s) => s.name === 'airlock run').length, 0, 'not before its job ends');
    await tracer.around(RUN.id, 'record', async () => undefined);
  });

  const byName = Object.fromEntries(sink.spans.map((s) => [s.name, s]));
  const wait = byName['decision wait']!;
  assert.deepEqual(wait.parent, root);
  assert.equal(wait.startMs, Date.parse('2026-01-01T00:01:00.000Z'));
  assert.equal(wait.endMs, Date.parse('2026-01-01T00:03:00.000Z'));
  assert.equal(wait.attributes['airlock.approver.kind'], 'human');
  assert.equal(wait.attributes['airlock.decision.channel'], 'ntfy');
  assert.ok(!JSON.stringify(sink.spans).includes('alice'), 'the approver is a kind, never the identity');
  const apply = byName['apply']!;
  assert.deepEqual(apply.parent, byName['apply job']!.ref);
  assert.equal(apply.endMs! - apply.startMs!, 30_000);
  assert.deepEqual(byName['record']!.parent, byName['apply job']!.ref);
  const run = byName['airlock run']!;
  assert.deepEqual(run.pin, root, 'the run span has the ids its traceparent promised');
  assert.equal(run.startMs, Date.parse(RUN.createdAt));
  assert.equal(run.attributes['airlock.run.state'], 'applied');
  assert.equal(run.attributes['gen_ai.agent.name'], 'claude');
  assert.equal(run.attributes['airlock.plan.tier'], 'approve');
  assert.equal(run.attributes['airlock.plan.sha256'], 'ab'.repeat(32));
  assert.equal(run.attributes['airlock.plan.changes.delete'], 1);
  assert.equal(run.attributes['airlock.plan.changes.sneaky'], undefined, 'a count Redis adds is not read');
  assert.equal(run.attributes['airlock.approver.kind'], 'human');
  assert.equal(sink.spans.at(-1)!.name, 'airlock run');
  // A final move outside any job (an expiry, a CLI deny) writes the run span at once.
  const other = recordingSink();
  createRunTracer(other, { runs, log: silent }).onMove(moved({ ...planned, decision: undefined }, 'awaiting_approval', 'expired'));
  assert.deepEqual(other.spans.map((s) => s.name), ['decision wait', 'airlock run']);
  assert.equal(other.spans[0]!.endMs, undefined, 'an expiry ends the wait when it is seen');
});

test('a run without a trace context (or a malformed or unsampled one) is not traced, and the work still runs', async () => {
  for (const traceparent of [undefined, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00', 'garbage']) {
    const sink = recordingSink();
    const run = { ...RUN, state: 'approved' as const, ...(traceparent ? { traceparent } : {}) };
    const runs = memoryRuns(run);
    const tracer = createRunTracer(sink, { runs, log: silent });
    assert.equal(await tracer.job('apply', run, async () => 'done'), 'done');
    tracer.onMove(moved(run, 'approved', 'superseded'));
    if (traceparent) assert.equal(await tracer.job('plan', run, async () => 'done'), 'done');
    assert.deepEqual(sink.spans, [], String(traceparent));
    assert.equal(runs.store.get(RUN.id)!.traceparent, traceparent, 'an existing value is never replaced');
  }
  const sink = recordingSink();
  const failing = { find: async () => Promise.reject(new Error('redis down')), update: async () => Promise.reject(new Error('redis down')) };
  assert.equal(await createRunTracer(sink, { runs: failing, log: silent }).job('plan', RUN, async () => 'ran'), 'ran', 'a tracing failure never stops the job');
});

test('a run born with its trace context costs its jobs no Redis access', async () => {
  const sink = recordingSink();
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const untouchable = { find: async () => assert.fail('read'), update: async () => assert.fail('written') };
  const tracer = createRunTracer(sink, { runs: untouchable, log: silent });
  await tracer.job('plan', { ...RUN, traceparent }, async () => tracer.step(RUN.id, 'checkout')!(RUN));
  await tracer.job('apply', { ...RUN, state: 'approved', traceparent }, async () => undefined);
  assert.deepEqual(sink.spans.map((s) => [s.name, s.parent?.spanId]), [['plan job', '00f067aa0ba902b7'], ['checkout', sink.spans[0]!.ref.spanId], ['apply job', '00f067aa0ba902b7']]);
});
