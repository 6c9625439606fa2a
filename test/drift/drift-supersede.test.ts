// Supersede rules between drift runs and PR (or branch) runs, on real Redis with the watcher and the drift
// checks: a drift run never supersedes a PR or branch run and the other way round, even a branch run of
// the very ref drift checks plan; a newer drift run supersedes an older one, and a slot that finds a drift
// run of the same head undecided is skipped; a newer head of the checked ref supersedes an undecided drift
// run of an older head, but not a decided one.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import pino from 'pino';
import { createDriftChecks } from '../../src/jobs/drift-job.ts';
import { createDriftStatus } from '../../src/jobs/drift-status.ts';
import { connectRedis } from '../../src/queue/queues.ts';
import { RunStore } from '../../src/run/run-store.ts';
import type { RunState } from '../../src/run/run.ts';
import { createWatcher } from '../../src/watch/watcher.ts';
import type { RemoteHead } from '../../src/watch/ls-remote.ts';
import { matchesRefPattern } from '../../src/watch/refs.ts';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/harness.ts';

const SHA1 = '1'.repeat(40);
const SHA2 = '2'.repeat(40);
const SHA3 = '3'.repeat(40);
const silent = pino({ level: 'silent' });
const DRIFT = { schedule: '0 */6 * * *', ref: 'refs/heads/main', timezone: 'UTC', jitter: 0, autoApply: false, whenLocked: 'skip' as const, lockWait: 600_000 };

async function setup(t: TestContext, refs: string[]) {
  const redis = connectRedis(REDIS_URL);
  const prefix = testPrefix();
  t.after(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });
  const runs = new RunStore(redis, prefix);
  let heads: RemoteHead[] = [];
  const superseded: Array<[string, string]> = [];
  // The real supersede moves planning/awaiting_approval/approved runs; here a stand-in that records and moves alike.
  const supersede = async (id: string, by: string) => {
    superseded.push([id, by]);
    const run = await runs.get(id);
    if (['planning', 'awaiting_approval', 'approved'].includes(run.state)) await setState(id, 'superseded');
  };
  const setState = (id: string, state: RunState) => redis.hset(`${prefix}:run:${id}`, 'state', state);
  const repo = { name: 'infra', url: 'file:///nowhere', pollInterval: 1000, refs, workspaces: [{ name: 'default', dir: '.', credentials: 'none' as const, drift: DRIFT }] };
  const listHeads = async (_url: string, patterns: string[]) => heads.filter((h) => patterns.some((p) => matchesRefPattern(h.ref, p)));
  const audit = { append: async () => undefined } as never;
  const planned: string[] = [];
  const watcher = createWatcher({ repos: [repo as never], runs, audit, log: silent, enqueuePlan: async (id) => void planned.push(id), supersede, listHeads });
  const checks = createDriftChecks({ config: { repos: [repo as never] }, runs, audit, log: silent, queue: { schedule: async () => undefined }, status: createDriftStatus(redis, prefix), enqueuePlan: async () => undefined, supersede, listHeads });
  return { runs, watcher, checks, superseded, setState, setHeads: (h: RemoteHead[]) => void (heads = h) };
}

test('drift runs and branch runs of the same ref never supersede each other; newer drift supersedes older drift', async (t) => {
  const s = await setup(t, ['refs/pull/*/head', 'refs/heads/main']);
  s.setHeads([{ ref: 'refs/heads/main', sha: SHA1 }, { ref: 'refs/pull/4/head', sha: SHA3 }]);
  await s.watcher.pollAll();
  const branchRun = (await s.runs.list()).find((r) => r.ref === 'refs/heads/main' && r.kind === undefined)!;
  const prRun = (await s.runs.list()).find((r) => r.pr === 4)!;
  const drift1 = (await s.checks.fire({ repo: 'infra', workspace: 'default', slot: '2026-11-28T00:00:00.000Z' }))!;
  // While drift1 (this head) is undecided, the next slot is skipped: its request stays the one that counts.
  assert.equal(await s.checks.fire({ repo: 'infra', workspace: 'default', slot: '2026-11-28T03:00:00.000Z' }), null);
  assert.equal((await s.runs.list()).filter((r) => r.kind === 'drift').length, 1);
  assert.equal(await s.checks.fire({ repo: 'infra', workspace: 'default', slot: '2026-11-28T00:00:00.000Z' }), drift1, 'the same slot again is the same run');
  await s.setState(drift1, 'expired');
  const drift2 = (await s.checks.fire({ repo: 'infra', workspace: 'default', slot: '2026-11-28T06:00:00.000Z' }))!;
  assert.deepEqual(s.superseded, [[drift1, drift2]], 'only the older drift run');
  for (const id of [branchRun.id, prRun.id]) assert.equal((await s.runs.get(id)).state, 'planning', `${id} untouched by drift runs`);
  // A new head on main: the branch run of the old head is superseded by the branch run of the new one;
  // the drift run of the old head, still undecided, is superseded because main moved, not by a branch run.
  s.setHeads([{ ref: 'refs/heads/main', sha: SHA2 }, { ref: 'refs/pull/4/head', sha: SHA3 }]);
  await s.watcher.pollAll();
  const newBranch = (await s.runs.list()).find((r) => r.ref === 'refs/heads/main' && r.kind === undefined && r.sha === SHA2)!;
  assert.deepEqual(s.superseded.slice(1).map(([id]) => id).sort(), [branchRun.id, drift2].sort());
  assert.deepEqual(s.superseded.find(([id]) => id === branchRun.id), [branchRun.id, newBranch.id]);
  assert.match(s.superseded.find(([id]) => id === drift2)![1], /^a newer head of refs\/heads\/main \(222222222222\)/);
  assert.equal((await s.runs.get(prRun.id)).state, 'planning', 'the PR run is never touched');
});

test('a newer head of the checked ref supersedes an undecided drift run, never a decided one; the ref need not be watched', async (t) => {
  const s = await setup(t, ['refs/pull/*/head']);
  s.setHeads([{ ref: 'refs/heads/main', sha: SHA1 }]);
  await s.watcher.pollAll();
  assert.deepEqual(await s.runs.list(), [], 'main is not watched for runs of its own');
  const waiting = (await s.checks.fire({ repo: 'infra', workspace: 'default', slot: '2026-11-28T00:00:00.000Z' }))!;
  await s.setState(waiting, 'awaiting_approval');
  await s.watcher.pollAll();
  assert.deepEqual(s.superseded, [], 'the same head: nothing to supersede');
  s.setHeads([{ ref: 'refs/heads/main', sha: SHA2 }]);
  await s.watcher.pollAll();
  const byNewerHead = () => s.superseded.filter(([, by]) => by.startsWith('a newer head')).map(([id]) => id);
  assert.deepEqual(byNewerHead(), [waiting]);
  assert.equal((await s.runs.get(waiting)).state, 'superseded');

  // Decided (applied, or ended): left alone when main moves again.
  const decided = (await s.checks.fire({ repo: 'infra', workspace: 'default', slot: '2026-11-28T06:00:00.000Z' }))!;
  await s.setState(decided, 'applied');
  s.setHeads([{ ref: 'refs/heads/main', sha: SHA3 }]);
  await s.watcher.pollAll();
  assert.deepEqual(byNewerHead(), [waiting]);
  assert.equal((await s.runs.get(decided)).state, 'applied');
});
