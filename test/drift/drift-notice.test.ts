// Quiet by default: the drift fingerprint (addresses, actions, attribute paths; never values), the pure
// rule that decides whether a drift is told, and the workspace's drift status in Redis that remembers
// the drift last told (compare-and-set, quarantined when Airlock did not write it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { noticeFor } from '../../src/jobs/drift-notice.ts';
import { createDriftStatus } from '../../src/jobs/drift-status.ts';
import { driftedObjectsOf, driftFingerprint } from '../../src/plan/drift-fingerprint.ts';
import { emptyCounts, type PlanSummary } from '../../src/plan/summary.ts';
import { connectRedis } from '../../src/queue/queues.ts';
import type { Run } from '../../src/run/run.ts';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/harness.ts';

const CANARY = 'CANARY-fingerprint-6f0d-never-shown';
const FP = 'f'.repeat(64);

/** A `show -json` document whose resource_drift has `a` updated (its `input` set to `value`) and `b` deleted. */
function planDoc(value: string, opts: { alsoTags?: boolean; sensitive?: boolean } = {}) {
  const before = { id: 'x1', input: 'one', output: 'one', tags: { Owner: 'ops' } };
  const after = { ...before, input: value, output: value, tags: opts.alsoTags ? { Owner: value } : before.tags };
  return {
    format_version: '1.2',
    resource_drift: [
      { address: 'terraform_data.a', mode: 'managed', change: { actions: ['update'], before, after, before_sensitive: opts.sensitive ? { tags: true } : {}, after_sensitive: opts.sensitive ? { tags: true } : {} } },
      { address: 'terraform_data.b', mode: 'managed', change: { actions: ['delete'], before: { id: 'x2', input: CANARY }, after: null } },
    ],
  };
}

const summary: PlanSummary = {
  formatVersion: '1.2',
  engineVersion: '1.11.4',
  counts: { ...emptyCounts(), create: 1, update: 1 },
  changes: [{ address: 'terraform_data.b', action: 'create' }, { address: 'terraform_data.a', action: 'update' }],
  listed: 2,
  total: 2,
  errored: false,
  drift: { changes: [{ address: 'terraform_data.a', action: 'update' }, { address: 'terraform_data.b', action: 'delete' }], listed: 2, total: 2 },
};

test('the drifted objects: addresses, actions and attribute paths, never a value', () => {
  const objects = driftedObjectsOf(planDoc(CANARY));
  assert.deepEqual(objects, [
    { address: 'terraform_data.a', action: 'update', paths: ['input', 'output'] },
    { address: 'terraform_data.b', action: 'delete', paths: [] },
  ]);
  assert.ok(!JSON.stringify(objects).includes(CANARY));
  assert.deepEqual(driftedObjectsOf(planDoc(CANARY, { alsoTags: true }))![0]!.paths, ['input', 'output', 'tags.Owner']);
  // A sensitive subtree is one path: not even its keys are walked.
  assert.deepEqual(driftedObjectsOf(planDoc(CANARY, { alsoTags: true, sensitive: true }))![0]!.paths, ['input', 'output', 'tags']);
  assert.deepEqual(driftedObjectsOf({ format_version: '1.2' }), [], 'no resource_drift: nothing drifted');
  assert.equal(driftedObjectsOf({ resource_drift: 'nonsense' }), null, 'unreadable: the fingerprint falls back to addresses');
});

test('the fingerprint: the same drift in other values is the same; other attributes, objects or changes are not', () => {
  const fp = (doc: unknown, s: PlanSummary = summary) => driftFingerprint(s, driftedObjectsOf(doc));
  const first = fp(planDoc(CANARY));
  assert.match(first, /^[0-9a-f]{64}$/);
  assert.equal(fp(planDoc('another value entirely')), first, 'values are not part of it');
  assert.notEqual(fp(planDoc(CANARY, { alsoTags: true })), first, 'another attribute drifted');
  const onlyA = { ...planDoc(CANARY), resource_drift: planDoc(CANARY).resource_drift.slice(0, 1) };
  assert.notEqual(fp(onlyA), first, 'another set of objects drifted');
  assert.notEqual(fp(planDoc(CANARY), { ...summary, changes: [...summary.changes, { address: 'terraform_data.c', action: 'create' }], total: 3 }), first, 'the plan changes more');
  assert.notEqual(driftFingerprint(summary, null), first, 'without attribute paths it is another fingerprint');
  assert.equal(driftFingerprint(summary, null), driftFingerprint(summary, null));
});

test('told or not: new and changed drift is told, the same drift is not, a replan always is', () => {
  const run = { id: 'r0000000000000bb', attempt: undefined } as Pick<Run, 'id' | 'attempt'>;
  const told = { fingerprint: FP, notifiedRun: 'r0000000000000aa', notifiedAt: '2026-11-28T00:00:00.000Z' };
  const rows: Array<[Parameters<typeof noticeFor>[0], string, Pick<Run, 'id' | 'attempt'>, 'notified' | 'suppressed', RegExp]> = [
    [{}, FP, run, 'notified', /^new drift/],
    [told, 'e'.repeat(64), run, 'notified', /^the drift changed since it was told \(run r0000000000000aa at 2026-11-28T00:00:00\.000Z\)/],
    [told, FP, run, 'suppressed', /^the same drift as told by run r0000000000000aa/],
    [told, FP, { id: 'r0000000000000bb', attempt: 2 }, 'notified', /^replanned by hand/],
    [told, FP, { id: 'r0000000000000aa' }, 'notified', /^told by this run before its plan job was retried/],
    [null, FP, run, 'notified', /quarantined/],
  ];
  for (const [status, fingerprint, r, outcome, reason] of rows) {
    const notice = noticeFor(status, fingerprint, r);
    assert.equal(notice.outcome, outcome, `${JSON.stringify(status)} ${fingerprint.slice(0, 4)}`);
    assert.match(notice.reason, reason);
    assert.equal(notice.fingerprint, fingerprint);
  }
});

test('the status in Redis: told once, then quiet until it changes; back in sync forgets it; a forged record is quarantined', async (t) => {
  const redis = connectRedis(REDIS_URL);
  const prefix = testPrefix();
  t.after(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });
  const quarantined: unknown[] = [];
  const status = createDriftStatus(redis, prefix, { error: (o: unknown) => void quarantined.push(o) } as never);
  const run = (id: string, state: Run['state'] = 'planning') => ({ id, repo: 'infra', workspace: 'default', state }) as Run;
  const at = new Date('2026-11-28T00:00:00Z');
  assert.equal((await status.notice(run('r0000000000000a1'), FP, at)).outcome, 'notified');
  assert.equal((await status.notice(run('r0000000000000a2'), FP, at)).outcome, 'suppressed', 'the same drift at the next slot');
  assert.equal((await status.notice(run('r0000000000000a3'), FP)).outcome, 'suppressed');
  // A run that ends (not in sync) keeps what was told.
  await status.record(run('r0000000000000a3', 'planned'), false, at);
  assert.equal((await status.read('infra', 'default'))?.fingerprint, FP);
  const changed = await status.notice(run('r0000000000000a4'), 'e'.repeat(64), at);
  assert.equal(changed.outcome, 'notified');
  assert.match(changed.reason, /r0000000000000a1/);
  assert.equal((await status.notice(run('r0000000000000a5'), 'e'.repeat(64))).outcome, 'suppressed');
  // Back in sync: forgotten, so the same drift later is news again.
  await status.record(run('r0000000000000a6', 'no_changes'), true, at);
  const back = await status.read('infra', 'default');
  assert.equal(back?.fingerprint, undefined);
  assert.equal(back?.lastInSync, at.toISOString());
  assert.equal((await status.notice(run('r0000000000000a7'), 'e'.repeat(64))).outcome, 'notified');
  // Redis is input: a record Airlock did not write is quarantined; the drift is then told (and the record replaced).
  await redis.set(`${prefix}:drift-status:infra:default`, JSON.stringify({ fingerprint: 'not-hex', notifiedRun: 'x' }));
  const forged = await status.notice(run('r0000000000000a8'), 'e'.repeat(64));
  assert.equal(forged.outcome, 'notified');
  assert.match(forged.reason, /quarantined/);
  assert.equal(quarantined.length, 1);
  assert.equal((await status.read('infra', 'default'))?.notifiedRun, 'r0000000000000a8');
});

test('two runners deciding at once: exactly one tells the same new drift (compare-and-set)', async (t) => {
  const a = connectRedis(REDIS_URL);
  const b = connectRedis(REDIS_URL);
  const prefix = testPrefix();
  t.after(async () => {
    a.disconnect();
    b.disconnect();
    await deletePrefix(prefix);
  });
  const run = (id: string) => ({ id, repo: 'infra', workspace: 'default', state: 'planning' }) as Run;
  const one = createDriftStatus(a, prefix, pino({ level: 'silent' }));
  const two = createDriftStatus(b, prefix, pino({ level: 'silent' }));
  const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? one : two).notice(run(`r${String(i).padStart(15, '0')}`), FP)));
  assert.equal(outcomes.filter((o) => o.outcome === 'notified').length, 1, outcomes.map((o) => o.outcome).join(','));
});
