// The one place where runs change state: moved, recorded, logged and announced, in that order, and
// nothing else can change a run's state.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import pino from 'pino';
import { RunStore } from '../../src/run/run-store.ts';
import { createRunTransitions, type RunMoved } from '../../src/run/transitions.ts';
import type { Run } from '../../src/run/run.ts';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/harness.ts';

type Appended = { type: string; run: string | null; detail?: Record<string, unknown>; subject?: { sha: string } };

async function setup(t: TestContext) {
  const prefix = testPrefix();
  const redis = new Redis(REDIS_URL);
  const runs = new RunStore(redis, prefix);
  const records: Appended[] = [];
  const audit = { append: async (r: Appended) => void records.push(r) };
  const transitions = createRunTransitions({ runs, audit, log: pino({ level: 'silent' }) });
  const heard: RunMoved[] = [];
  transitions.subscribe((e) => void heard.push(e));
  t.after(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });
  const { run } = await runs.create({ repo: 'infra', ref: 'refs/pull/1/head', pr: 1, sha: 'a'.repeat(40), workspace: 'default', seenAt: Date.now() });
  return { runs, records, transitions, heard, run };
}

test('a move is stored, recorded with the run described, and announced to subscribers', async (t) => {
  const s = await setup(t);
  const moved = await s.transitions.move(s.run, { from: ['planning'], to: 'no_changes', record: { type: 'plan.finished', detail: { outcome: 'no_changes' } } });
  assert.equal(moved?.state, 'no_changes');
  assert.equal((await s.runs.get(s.run.id)).state, 'no_changes');
  assert.deepEqual(s.records.map((r) => [r.type, r.run, r.subject?.sha, r.detail?.['outcome']]), [['plan.finished', s.run.id, s.run.sha, 'no_changes']]);
  await s.transitions.idle();
  assert.deepEqual(s.heard.map((e) => [e.run.id, e.from, e.to, e.type]), [[s.run.id, 'planning', 'no_changes', 'plan.finished']]);
});

test('a run elsewhere does not move: no record, no event, unless the caller asks for the record anyway', async (t) => {
  const s = await setup(t);
  assert.equal(await s.transitions.move(s.run, { from: ['awaiting_approval'], to: 'approved', record: { type: 'approval.granted' } }), null);
  assert.equal(await s.transitions.move(s.run, { from: ['approved'], to: 'failed', record: { type: 'apply.refused', evenIfUnmoved: true } }), null);
  await s.transitions.idle();
  assert.deepEqual(s.records.map((r) => r.type), ['apply.refused']);
  assert.equal(s.heard.length, 0);
  assert.equal((await s.runs.get(s.run.id)).state, 'planning');
});

test('a move the state machine forbids throws, and a predicate sees the stored run', async (t) => {
  const s = await setup(t);
  await assert.rejects(s.transitions.move(s.run, { from: ['planning'], to: 'applied' }), { code: 'airlock:illegal-transition' });
  const seen: Run[] = [];
  const moved = await s.transitions.move(s.run.id, { from: (r) => (seen.push(r), r.state === 'planning'), to: 'failed', patch: (r) => ({ error: { code: 'airlock:x', message: `from v${r.version}` } }) });
  assert.equal(moved?.error?.message, 'from v1');
  assert.equal(seen[0]?.version, 1);
});

test('a failing or slow subscriber never changes the outcome of a move', async (t) => {
  const s = await setup(t);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  s.transitions.subscribe(() => {
    throw new Error('forge is down');
  });
  s.transitions.subscribe(async () => gate);
  const moved = await s.transitions.move(s.run, { from: ['planning'], to: 'failed', record: { type: 'plan.failed' } });
  assert.equal(moved?.state, 'failed', 'the move returned while a subscriber was still busy');
  release();
  await s.transitions.idle();
  assert.equal(s.heard.length, 1);
});

test('RunStore.update cannot change a state: only the transitions can', async (t) => {
  const s = await setup(t);
  await assert.rejects(s.runs.update(s.run.id, (r) => ({ ...r, state: 'expired' })), { code: 'airlock:illegal-transition' });
  assert.equal((await s.runs.get(s.run.id)).state, 'planning');
  // The same update without a state change is fine.
  assert.equal((await s.runs.update(s.run.id, (r) => ({ ...r, agent: null })))?.agent, null);
});

test('a move whose audit record cannot be written did not happen: the run is put back, nobody hears of it, the error reaches the caller', async (t) => {
  const s = await setup(t);
  const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'airlock:audit-write-failed' });
  const failing = createRunTransitions({ runs: s.runs, audit: { append: async () => Promise.reject(full) }, log: pino({ level: 'silent' }) });
  const heard: RunMoved[] = [];
  failing.subscribe((e) => void heard.push(e));
  await assert.rejects(failing.move(s.run, { from: ['planning'], to: 'no_changes', record: { type: 'plan.finished' } }), /ENOSPC/);
  await failing.idle();
  const back = await s.runs.get(s.run.id);
  assert.equal(back.state, 'planning', 'the run is where it was');
  assert.equal(back.version, 3, 'put back by a compare-and-set (moved, then undone)');
  assert.equal(heard.length, 0);
  // The same move with a working chain goes through: nothing was left half done.
  assert.equal((await s.transitions.move(s.run, { from: ['planning'], to: 'no_changes', record: { type: 'plan.finished' } }))?.state, 'no_changes');
});

test('control: a run changed by someone else between the move and the failed record is not overwritten by the undo', async (t) => {
  const s = await setup(t);
  const failing = createRunTransitions({
    runs: s.runs,
    audit: {
      // Someone else changes the run while the record is being written, then the write fails.
      append: async () => {
        await s.runs.update(s.run.id, (r) => ({ ...r, author: 'someone else' }));
        throw new Error('EIO');
      },
    },
    log: pino({ level: 'silent' }),
  });
  await assert.rejects(failing.move(s.run, { from: ['planning'], to: 'failed', record: { type: 'plan.failed' } }), /EIO/);
  const after = await s.runs.get(s.run.id);
  assert.equal(after.state, 'failed', 'a newer change is never undone');
  assert.equal(after.author, 'someone else');
});
