// The drift check's `lock` step against real Redis locks: a drift run takes the workspace lock that applies
// take; when an apply holds it, the run skips its slot (`drift.whenLocked: skip`, the default) or waits
// for it (`wait`, up to `lockWait`) and says which on the run, in the audit log and in the log. PR runs
// never take it in their plan.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { WorkspaceLocks } from '../../src/apply/workspace-lock.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { createDriftSteps, holderText } from '../../src/jobs/drift-steps.ts';
import { createLogger } from '../../src/log/logger.ts';
import { connectRedis } from '../../src/queue/queues.ts';
import { RunStore } from '../../src/run/run-store.ts';
import { createRunTransitions } from '../../src/run/transitions.ts';
import type { Run } from '../../src/run/run.ts';
import { CapturedLog, deletePrefix, REDIS_URL, testPrefix, waitFor } from '../support/harness.ts';

const SHA = 'a'.repeat(40);
const APPLY_OWNER = 'runner-1@host:4242 apply r0123456789abcde';

async function setup(t: TestContext, driftYaml: string) {
  const redis = connectRedis(REDIS_URL);
  const prefix = testPrefix();
  t.after(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });
  const config = parseConfigText(`runner: { id: runner-2 }\nrepos:\n  - name: infra\n    url: https://git.example/infra.git\n    workspaces:\n      - name: default\n        drift: ${driftYaml}\n`, 'x.yaml');
  const runs = new RunStore(redis, prefix);
  const records: Array<{ type: string; run: string | null; detail?: Record<string, unknown> }> = [];
  const audit = { append: async (r: (typeof records)[number]) => void records.push(r) };
  const captured = new CapturedLog();
  const log = createLogger({ level: 'debug', destination: captured.stream, pretty: false });
  const transitions = createRunTransitions({ runs, audit, log });
  const locks = new WorkspaceLocks(redis, prefix);
  const steps = createDriftSteps({ config, runs, audit: audit as never, transitions, locks, driftStatus: { notice: async () => assert.fail('not asked') }, log });
  const drift = (await runs.create({ repo: 'infra', ref: 'refs/heads/main', pr: null, sha: SHA, workspace: 'default', seenAt: 1, drift: { slot: '2026-11-28T00:00:00.000Z' } })).run;
  const pr = (await runs.create({ repo: 'infra', ref: 'refs/pull/3/head', pr: 3, sha: SHA, workspace: 'default', seenAt: 1 })).run;
  return { runs, records, captured, locks, steps, drift, pr, log };
}

test('whenLocked skip (the default): an apply holds the lock, the drift run skips its slot and says so', async (t) => {
  const { runs, records, captured, locks, steps, drift, pr, log } = await setup(t, '{ schedule: "0 */6 * * *" }');
  const apply = await locks.tryAcquire('infra', 'default', APPLY_OWNER);
  assert.ok(apply, 'the apply holds the workspace lock');
  const ctx = { run: drift, log };
  assert.equal(await steps.lock.run(ctx), 'done');
  const skipped = await runs.get(drift.id);
  assert.equal(skipped.state, 'skipped');
  assert.deepEqual(skipped.driftLock, { whenLocked: 'skip', outcome: 'skipped', holder: APPLY_OWNER, waitedMs: 0 });
  const record = records.find((r) => r.type === 'drift.skipped');
  assert.equal(record?.run, drift.id);
  assert.match(String(record?.detail?.['reason']), /the workspace lock was held \(drift\.whenLocked: skip\)/);
  assert.equal(record?.detail?.['holder'], APPLY_OWNER);
  assert.ok(captured.lines().some((l) => /^drift check skipped: the workspace lock was held/.test(String(l['msg'])) && l['holder'] === APPLY_OWNER));
  assert.equal(await apply.isHeld(), true, 'the apply keeps its lock');

  // A PR run's plan never takes the workspace lock, held or not.
  const prCtx = { run: pr, log };
  assert.equal(steps.lock.when?.(prCtx), false, 'the step loop skips the lock step for a PR run');
  assert.equal(steps.lock.when?.(ctx), true);
  assert.equal((await runs.get(pr.id)).state, 'planning');
  await apply.release();
});

test('a free lock: the drift check holds it, so an apply cannot start until the check lets it go (control)', async (t) => {
  const { runs, locks, steps, drift, log } = await setup(t, '{ schedule: "0 */6 * * *" }');
  const ctx: { run: Run; log: typeof log; lock?: Awaited<ReturnType<WorkspaceLocks['tryAcquire']>> } = { run: drift, log };
  assert.equal(await steps.lock.run(ctx), undefined);
  assert.ok(ctx.lock);
  assert.equal((await runs.get(drift.id)).state, 'planning');
  assert.match(holderText(await locks.holder('infra', 'default'))!, /^runner-2@\S+ drift check r[0-9a-f]{15}$/);
  assert.equal(await locks.tryAcquire('infra', 'default', APPLY_OWNER), null, 'an apply waits for the drift check');
  await ctx.lock.release();
  const apply = await locks.tryAcquire('infra', 'default', APPLY_OWNER);
  assert.ok(apply, 'and goes once the check is done');
  await apply.release();
});

test('whenLocked wait: waits for the apply to let go, then checks, and says it waited', async (t) => {
  const { runs, records, locks, steps, drift, log } = await setup(t, '{ schedule: "0 */6 * * *", whenLocked: wait, lockWait: 2m }');
  const apply = (await locks.tryAcquire('infra', 'default', APPLY_OWNER))!;
  const ctx: { run: Run; log: typeof log; lock?: Awaited<ReturnType<WorkspaceLocks['tryAcquire']>> } = { run: drift, log };
  const stepDone = steps.lock.run(ctx);
  await waitFor('the wait on record', async () => records.some((r) => r.type === 'drift.lock-wait'));
  assert.equal((await runs.get(drift.id)).state, 'planning', 'still waiting, not skipped');
  await apply.release();
  assert.equal(await stepDone, undefined);
  assert.ok(ctx.lock, 'the drift check holds the lock now');
  const waited = await runs.get(drift.id);
  assert.equal(waited.state, 'planning');
  assert.equal(waited.driftLock?.outcome, 'waited');
  assert.equal(waited.driftLock?.holder, APPLY_OWNER);
  assert.deepEqual(records.map((r) => r.type), ['drift.lock-wait', 'drift.lock-taken']);
  await ctx.lock.release();
});

test('whenLocked wait: a lock still held after lockWait skips the slot, saying how long it waited', async (t) => {
  const { runs, records, locks, steps, drift, log } = await setup(t, '{ schedule: "0 */6 * * *", whenLocked: wait, lockWait: 300ms }');
  const apply = (await locks.tryAcquire('infra', 'default', APPLY_OWNER))!;
  assert.equal(await steps.lock.run({ run: drift, log }), 'done');
  const skipped = await runs.get(drift.id);
  assert.equal(skipped.state, 'skipped');
  assert.equal(skipped.driftLock?.whenLocked, 'wait');
  assert.equal(skipped.driftLock?.outcome, 'skipped');
  assert.match(String(records.find((r) => r.type === 'drift.skipped')?.detail?.['reason']), /still held after waiting \d+ s \(drift\.whenLocked: wait\)/);
  await apply.release();
});

test('the holder named from Redis is cut to printable text (Redis is input)', () => {
  assert.equal(holderText(`${APPLY_OWNER}:0123456789abcdef`), APPLY_OWNER);
  assert.equal(holderText('evil\u001b[31m\u202e'), 'evil?[31m?');
  assert.equal(holderText('x'.repeat(500))!.length, 200);
  assert.equal(holderText(null), null);
});
