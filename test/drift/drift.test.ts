// Drift checks, piece by piece: run ids, the schedule under a fake clock (no sleeps), jitter, the policy
// for drift runs, the config, the phone notice and the status the transitions events keep.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import pino from 'pino';
import { ConfigError } from '../../src/config/errors.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { createDriftChecks } from '../../src/jobs/drift-job.ts';
import { DRIFT_NOT_AUTO_REASON, driftAdjusted } from '../../src/jobs/drift-policy.ts';
import { jitterFor, nextFiring } from '../../src/jobs/drift-schedule.ts';
import { createDriftStatus } from '../../src/jobs/drift-status.ts';
import { buildRequest } from '../../src/approve/ntfy/messages.ts';
import { renderPhoneRequest } from '../../src/approve/phone-summary.ts';
import { emptyCounts, type PlanSummary } from '../../src/plan/summary.ts';
import { driftJobId, driftJobPayload, type DriftPayload } from '../../src/queue/drift-queue.ts';
import { connectRedis } from '../../src/queue/queues.ts';
import { RunStore } from '../../src/run/run-store.ts';
import { deriveRunId, type Run } from '../../src/run/run.ts';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/harness.ts';

const SHA = 'a'.repeat(40);
const SHA2 = 'b'.repeat(40);
const silent = pino({ level: 'silent' });

test('PR run ids are what they were; a drift run\'s id names its slot', () => {
  // The id formula from before drift existed, written out: PR runs keep their ids.
  const before = (triple: string) => `r${createHash('sha256').update(triple).digest('hex').slice(0, 15)}`;
  assert.equal(deriveRunId('infra', 'default', SHA), before(`infra\0default\0${SHA}`));
  assert.equal(deriveRunId('infra', 'default', SHA, 2), before(`infra\0default\0${SHA}\0attempt 2`));
  const slot = '2026-11-28T00:00:00.000Z';
  const drift = deriveRunId('infra', 'default', SHA, 1, slot);
  assert.notEqual(drift, deriveRunId('infra', 'default', SHA));
  assert.notEqual(drift, deriveRunId('infra', 'default', SHA, 1, '2026-11-28T06:00:00.000Z'));
  assert.equal(drift, deriveRunId('infra', 'default', SHA, 1, slot), 'the same slot gives the same id on every runner');
});

test('the schedule under a fake clock: next slot, jitter, once per slot, no catch-up storm after downtime', async (t) => {
  const redis = connectRedis(REDIS_URL);
  const prefix = testPrefix();
  t.after(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });
  const runs = new RunStore(redis, prefix);
  let clock = new Date('2026-11-27T22:10:00.000Z');
  const scheduled: Array<{ payload: DriftPayload; fireAt: Date }> = [];
  const records: Array<{ type: string; detail?: Record<string, unknown> }> = [];
  const planned: string[] = [];
  const superseded: Array<[string, string]> = [];
  let head = SHA;
  const drift = { schedule: '0 */6 * * *', ref: 'refs/heads/main', timezone: 'UTC', jitter: 5 * 60_000, autoApply: false };
  const config = { repos: [{ name: 'infra', url: 'file:///nowhere', pollInterval: 1000, refs: ['refs/pull/*/head'], workspaces: [{ name: 'default', dir: '.', credentials: 'none' as const, drift }] }] };
  const checks = createDriftChecks({
    config: config as never,
    runs,
    audit: { append: async (r: { type: string; detail?: Record<string, unknown> }) => void records.push(r) } as never,
    log: silent,
    queue: { schedule: async (payload, fireAt) => void scheduled.push({ payload, fireAt }) },
    status: createDriftStatus(redis, prefix),
    enqueuePlan: async (id) => void planned.push(id),
    supersede: async (id, by) => void superseded.push([id, by]),
    listHeads: async () => [{ ref: 'refs/heads/main', sha: head }, { ref: 'refs/heads/other', sha: SHA2 }],
    now: () => clock,
  });

  await checks.scheduleAll();
  assert.equal(scheduled.length, 1);
  const first = scheduled[0]!;
  assert.equal(first.payload.slot, '2026-11-28T00:00:00.000Z');
  const delay = first.fireAt.getTime() - Date.parse(first.payload.slot);
  assert.ok(delay >= 0 && delay < 5 * 60_000, `jitter ${delay} ms within 5m`);

  // The slot comes due: the next slot is queued first, then the head becomes a drift run.
  clock = first.fireAt;
  const id = await checks.fire(first.payload);
  assert.equal(scheduled[1]!.payload.slot, '2026-11-28T06:00:00.000Z');
  const run = await runs.get(id!);
  assert.equal(run.kind, 'drift');
  assert.equal(run.driftSlot, first.payload.slot);
  assert.equal(run.sha, SHA);
  assert.equal(run.ref, 'refs/heads/main');
  assert.deepEqual(planned, [id]);
  assert.equal(records.filter((r) => r.type === 'run.sighted').length, 1);

  // The same slot again (a second runner's copy of the job): the same run, no second sighting.
  assert.equal(await checks.fire(first.payload), id);
  assert.equal(records.filter((r) => r.type === 'run.sighted').length, 1);

  // A PR run of the same head is not touched by drift runs, and the next drift run supersedes the older one.
  const pr = await runs.create({ repo: 'infra', ref: 'refs/pull/9/head', pr: 9, sha: SHA, workspace: 'default', seenAt: clock.getTime() });
  assert.equal(pr.previous, null, 'a PR run does not replace a drift run');
  head = SHA2;
  clock = new Date('2026-11-28T06:01:00.000Z');
  const second = await checks.fire(scheduled[1]!.payload);
  assert.deepEqual(superseded, [[id, second]], 'the newer drift run supersedes the older one only');

  // After a long downtime the next slot queued is the first one after now, not one already past.
  clock = new Date('2026-11-29T13:00:00.000Z');
  await checks.fire({ repo: 'infra', workspace: 'default', slot: '2026-11-28T12:00:00.000Z' });
  assert.equal(scheduled.at(-1)!.payload.slot, '2026-11-29T18:00:00.000Z');

  // No such ref: skipped, said so in the audit log.
  drift.ref = 'refs/heads/gone';
  assert.equal(await checks.fire({ repo: 'infra', workspace: 'default', slot: '2026-11-30T00:00:00.000Z' }), null);
  assert.equal(records.at(-1)!.type, 'drift.skipped');
});

test('a stored drift run whose slot was rewritten is quarantined (the slot is part of its id)', async (t) => {
  const redis = connectRedis(REDIS_URL);
  const prefix = testPrefix();
  t.after(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });
  const runs = new RunStore(redis, prefix, undefined, silent);
  const { run } = await runs.create({ repo: 'infra', ref: 'refs/heads/main', pr: null, sha: SHA, workspace: 'default', seenAt: 1, drift: { slot: '2026-11-28T00:00:00.000Z' } });
  assert.equal((await runs.find(run.id))?.kind, 'drift', 'control: the untouched record reads back');
  const key = `${prefix}:run:${run.id}`;
  const doc = JSON.parse((await redis.hget(key, 'doc'))!) as Run;
  await redis.hset(key, 'doc', JSON.stringify({ ...doc, driftSlot: '2026-11-28T06:00:00.000Z' }));
  assert.equal(await runs.find(run.id), null);
  await redis.hset(key, 'doc', JSON.stringify({ ...doc, kind: undefined }));
  assert.equal(await runs.find(run.id), null, 'a drift run cannot pass as a PR run');
});

test('jitter is the same on every runner, below the maximum, and spreads workspaces', () => {
  const slot = new Date('2026-11-28T00:00:00.000Z');
  assert.equal(jitterFor('infra', 'a', slot, 60_000), jitterFor('infra', 'a', slot, 60_000));
  const spread = new Set(Array.from({ length: 50 }, (_, i) => jitterFor('infra', `ws${i}`, slot, 300_000)));
  assert.ok(spread.size > 40, 'fifty workspaces do not fire at once');
  for (const j of spread) assert.ok(j >= 0 && j < 300_000);
  assert.equal(jitterFor('infra', 'a', slot, 0), 0);
  const timing = { schedule: '30 2 * * *', timezone: 'Europe/Berlin', jitter: 0 };
  assert.equal(nextFiring('infra', 'a', timing, new Date('2026-11-27T12:00:00Z')).slot.toISOString(), '2026-11-28T01:30:00.000Z', 'in the schedule\'s time zone');
});

test('drift jobs are checked like any queue input', () => {
  const payload = { repo: 'infra', workspace: 'default', slot: '2026-11-28T00:00:00.000Z' };
  assert.deepEqual(driftJobPayload({ name: 'drift', id: driftJobId(payload), data: payload }), payload);
  assert.equal(driftJobPayload({ name: 'drift', id: 'drift-infra-default-1', data: payload }), null, 'an id that does not match the slot');
  assert.equal(driftJobPayload({ name: 'drift', id: driftJobId(payload), data: { ...payload, extra: 1 } }), null);
  assert.equal(driftJobPayload({ name: 'plan', id: driftJobId(payload), data: payload }), null);
});

test('policy auto never applies a drift run unless the workspace says autoApply', () => {
  const config = parseConfigText('repos:\n  - name: infra\n    url: https://git.example/infra.git\n    workspaces:\n      - name: a\n        drift: { schedule: "0 */6 * * *" }\n      - name: b\n        drift: { schedule: "0 */6 * * *", autoApply: true }\n', 'x.yaml');
  const auto = { tier: 'auto' as const, reasons: ['[small] small change'], rules: ['small'] };
  const run = (workspace: string, kind?: 'drift') => ({ repo: 'infra', workspace, kind }) as Run;
  assert.deepEqual(driftAdjusted(config, run('a', 'drift'), auto), { tier: 'approve', reasons: [DRIFT_NOT_AUTO_REASON, '[small] small change'], rules: ['drift', 'small'] });
  assert.equal(driftAdjusted(config, run('b', 'drift'), auto), auto);
  assert.equal(driftAdjusted(config, run('a'), auto), auto, 'PR runs are unaffected');
  assert.equal(config.repos[0]!.workspaces[0]!.drift?.ref, 'refs/heads/main');
  assert.equal(config.repos[0]!.workspaces[0]!.drift?.jitter, 5 * 60_000);
});

test('a bad drift schedule is refused at load, naming the key', () => {
  const bad = (drift: string) => {
    try {
      parseConfigText(`repos:\n  - name: infra\n    url: https://git.example/infra.git\n    workspaces:\n      - name: a\n        drift: ${drift}\n`, 'runners/home.yaml');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.message;
    }
    return assert.fail('expected a config error');
  };
  assert.match(bad('{ schedule: "every 6 hours" }'), /`repos\[0\]\.workspaces\[0\]\.drift\.schedule` must be a cron expression/);
  assert.match(bad('{ schedule: "0 */6 * *" }'), /got 4 fields/);
  assert.match(bad('{ schedule: "99 * * * *" }'), /drift\.schedule` must be a cron expression/);
  assert.match(bad('{ schedule: "0 * * * *", ref: "refs/heads/*" }'), /drift\.ref` must be a full ref name/);
  assert.match(bad('{ schedule: "0 * * * *", timezone: Mars/Olympus }'), /drift\.timezone` must be an IANA time zone/);
});

test('the phone notice of drift is low priority and names what drifted apart from the code\'s changes', () => {
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
  const ctx = { repo: 'infra', workspace: 'default', pr: null, sha: SHA, planSha256: 'c'.repeat(64), runId: 'r0123456789abcde', expiresAt: new Date('2026-11-28T00:15:00Z'), reasons: [] };
  const text = renderPhoneRequest(summary, ctx);
  assert.match(text.title, /^Drift \(2\), re-converge\?/);
  assert.match(text.message, /Drift: 2 objects changed outside of Airlock \(1 changed, 1 deleted\)/);
  // Plain text, escaped like every repo-supplied string on the phone (messages are sent without Markdown).
  assert.ok(text.message.includes('~ terraform_data.a (changed)'), text.message);
  assert.ok(text.message.includes('- terraform_data.b (deleted)'), text.message);
  const reply = { server: 'https://ntfy.example', replyTopic: 'r', replyToken: 't' };
  assert.equal(buildRequest(text, 'n', reply, 'nonce', 'approve', { drift: true }).priority, 2);
  assert.equal(buildRequest(text, 'n', reply, 'nonce', 'approve').priority, 4, 'control: a PR request stays high');
  assert.equal(buildRequest(text, 'n', reply, 'nonce', 'confirm', { drift: true }).priority, 5, 'the second tap of a destroy stays urgent');
  const plain = renderPhoneRequest({ ...summary, drift: undefined }, ctx);
  assert.doesNotMatch(plain.message, /Drift/);
});

test('the status follows drift runs only: in sync moves last-in-sync, a PR run changes nothing', async (t) => {
  const redis = connectRedis(REDIS_URL);
  const prefix = testPrefix();
  t.after(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });
  const status = createDriftStatus(redis, prefix, silent);
  const checks = createDriftChecks({ config: { repos: [] }, runs: {} as never, audit: {} as never, log: silent, queue: { schedule: async () => undefined }, status, enqueuePlan: async () => undefined, supersede: async () => undefined, now: () => new Date('2026-11-28T00:00:05Z') });
  const run = { id: 'r0123456789abcde', repo: 'infra', workspace: 'default', state: 'no_changes' } as Run;
  await checks.onMoved({ run: { ...run, kind: undefined }, from: 'planning', to: 'no_changes', type: 'plan.finished', actor: { kind: 'runner', id: 'x' } });
  assert.deepEqual(await status.read('infra', 'default'), {});
  await checks.onMoved({ run: { ...run, kind: 'drift' }, from: 'planning', to: 'no_changes', type: 'plan.finished', actor: { kind: 'runner', id: 'x' } });
  assert.deepEqual(await status.read('infra', 'default'), { lastRun: run.id, lastState: 'no_changes', lastAt: '2026-11-28T00:00:05.000Z', drifted: 0, lastInSync: '2026-11-28T00:00:05.000Z' });
  await redis.set(`${prefix}:drift-status:infra:default`, JSON.stringify({ lastInSync: 'yesterday-ish' }));
  assert.equal(await status.read('infra', 'default'), null, 'a record Airlock did not write is quarantined');
});
