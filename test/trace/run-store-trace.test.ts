// The trace context on the run record, in real Redis: born with the run while traces are on (and with a
// replan's new attempt), absent otherwise, and a planted malformed one makes the record unreadable
// (quarantined) like any other bad field, never a trace with text of an attacker's choosing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextAttempt } from '../../src/apply/replan.ts';
import { connectRedis } from '../../src/queue/queues.ts';
import { RunStore } from '../../src/run/run-store.ts';
import { newTraceparent, parseTraceparent } from '../../src/trace/trace.ts';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/harness.ts';

const sighting = (pr: number) => ({ repo: 'infra', ref: `refs/pull/${pr}/head`, pr, sha: String(pr).repeat(40).slice(0, 40), workspace: 'default', seenAt: Date.now() });

test('runs are born with a trace context only while traces are on; a replan gets its own', async (t) => {
  const prefix = testPrefix();
  const redis = connectRedis(REDIS_URL);
  t.after(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });
  const traced = new RunStore(redis, prefix, undefined, undefined, newTraceparent);
  const plain = new RunStore(redis, prefix);

  const a = (await traced.create(sighting(1))).run;
  assert.ok(parseTraceparent((await plain.get(a.id)).traceparent), 'stored with the run');
  const again = await traced.create(sighting(1));
  assert.equal(again.created, false);
  assert.equal(again.run.traceparent, a.traceparent, 'a second sighting keeps the first one');
  const b = (await plain.create(sighting(2))).run;
  assert.equal((await plain.get(b.id)).traceparent, undefined, 'traces off: none');

  const stored = await plain.get(a.id);
  const next = nextAttempt(stored);
  assert.equal(await traced.createAttempt(stored, next), 'created');
  const replanned = await plain.get(next.id);
  assert.ok(parseTraceparent(replanned.traceparent));
  assert.notEqual(parseTraceparent(replanned.traceparent)!.traceId, parseTraceparent(a.traceparent)!.traceId, 'a new attempt is a new trace');
});

test('a malformed traceparent planted in Redis quarantines the record (negative control: a valid one reads)', async (t) => {
  const prefix = testPrefix();
  const redis = connectRedis(REDIS_URL);
  t.after(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });
  const runs = new RunStore(redis, prefix);
  const run = (await runs.create(sighting(3))).run;
  const key = `${prefix}:run:${run.id}`;
  const doc = JSON.parse((await redis.hget(key, 'doc'))!) as Record<string, unknown>;
  await redis.hset(key, 'doc', JSON.stringify({ ...doc, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }));
  assert.equal((await runs.find(run.id))?.traceparent, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
  await redis.hset(key, 'doc', JSON.stringify({ ...doc, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"; drop' }));
  assert.equal(await runs.find(run.id), null, 'not one Airlock wrote: not read');
});
