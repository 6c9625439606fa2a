// Values read back from Redis are parsed, not trusted: a table of forged run records, job payloads,
// approval records and cursors, each quarantined with the coded, alert-grade log line, next to the
// genuine value that passes (the control).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { RunStore } from '../../src/run/run-store.ts';
import { deriveRunId } from '../../src/run/run.ts';
import { createSealer } from '../../src/approve/approval-seal.ts';
import { ApprovalStore } from '../../src/approve/approval-store.ts';
import { bindingFor, hashToken } from '../../src/approve/approve.ts';
import { planViewOf } from '../../src/approve/plan-view.ts';
import { ReplyCursor } from '../../src/approve/reply-cursor.ts';
import { ReplyWatermark } from '../../src/approve/reply-watermark.ts';
import { createLogger } from '../../src/log/logger.ts';
import { jobRunId } from '../../src/queue/queues.ts';
import { CapturedLog, deletePrefix, REDIS_URL, testPrefix } from '../support/harness.ts';

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const prefix = testPrefix();
  const redis = new Redis(REDIS_URL);
  const captured = new CapturedLog();
  const log = createLogger({ level: 'info', destination: captured.stream, pretty: false });
  t.after(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });
  const quarantines = () => captured.lines().filter((l) => l['event'] === 'redis.quarantined' && l['code'] === 'airlock:redis-record-invalid');
  return { prefix, redis, log, quarantines };
}

test('run records: only a record stored under its own id, whose triple derives that id, is a run', async (t) => {
  const { prefix, redis, log, quarantines } = await setup(t);
  const runs = new RunStore(redis, prefix, undefined, log);
  const sha = randomBytes(20).toString('hex');
  const { run } = await runs.create({ repo: 'infra', ref: 'refs/pull/1/head', pr: 1, sha, workspace: 'default', seenAt: 1 });
  assert.equal((await runs.find(run.id))?.id, run.id, 'control: the genuine record is read');
  const doc = JSON.parse((await redis.hget(`${prefix}:run:${run.id}`, 'doc'))!) as Record<string, unknown>;
  const rows: Array<[string, Record<string, unknown> | string, string?]> = [
    ['another id', { ...doc, id: '..' }],
    ['id of another run', { ...doc, id: deriveRunId('infra', 'default', 'b'.repeat(40)) }],
    ['rewritten sha', { ...doc, sha: 'c'.repeat(40) }],
    ['rewritten workspace', { ...doc, workspace: 'prod' }],
    ['a path as repo', { ...doc, repo: '../../etc' }],
    ['plan hash not hex', { ...doc, plan: { sha256: '../x', summary: {}, tier: 'approve', reasons: [], engineVersion: '1', treeId: 'a'.repeat(40) } }],
    ['unknown state', doc, 'pwned'],
    ['not JSON', '{"id":'],
  ];
  for (const [what, value, state] of rows) {
    await redis.hset(`${prefix}:run:${run.id}`, 'doc', typeof value === 'string' ? value : JSON.stringify(value), 'state', state ?? 'planning');
    const before = quarantines().length;
    assert.equal(await runs.find(run.id), null, what);
    assert.equal(quarantines().length, before + 1, `${what}: one quarantine line`);
  }
  await assert.rejects(runs.find('../audit'), (err: Error & { code?: string }) => err.code === 'airlock:bad-run-id');
  // A listing skips what it cannot trust and goes on.
  await redis.zadd(`${prefix}:runs`, 5, '../../x');
  assert.deepEqual(await runs.list(), []);
  assert.ok(quarantines().some((l) => l['kind'] === 'run index entry'));
});

test('a sighting that a read would quarantine is refused when written, and a replanned attempt reads back', async (t) => {
  const { prefix, redis, log, quarantines } = await setup(t);
  const runs = new RunStore(redis, prefix, undefined, log);
  const sha = randomBytes(20).toString('hex');
  const longRef = `refs/heads/${'x/'.repeat(2100)}y`;
  await assert.rejects(runs.create({ repo: 'infra', ref: longRef, pr: null, sha, workspace: 'default', seenAt: 1 }), (err: Error & { code?: string }) => err.code === 'airlock:run-invalid' && /ref/.test(err.message));
  assert.equal(await redis.exists(`${prefix}:run:${deriveRunId('infra', 'default', sha)}`), 0, 'nothing was written');
  const { run } = await runs.create({ repo: 'infra', ref: `refs/heads/${'x/'.repeat(1000)}y`, pr: null, sha, workspace: 'default', seenAt: 1 });
  assert.equal((await runs.find(run.id))?.id, run.id, 'a long but possible ref is kept');
  // attempt 2 of the same head has its own derived id, which the read check accepts
  const second = { ...run, id: deriveRunId('infra', 'default', sha, 2), attempt: 2, replanOf: run.id };
  await redis.hset(`${prefix}:run:${second.id}`, 'doc', JSON.stringify(second), 'state', 'planning', 'version', '1');
  assert.equal((await runs.find(second.id))?.attempt, 2);
  await redis.hset(`${prefix}:run:${second.id}`, 'doc', JSON.stringify({ ...second, attempt: 3 }));
  assert.equal(await runs.find(second.id), null, 'a rewritten attempt number no longer derives the id');
  assert.equal(quarantines().length, 1);
});

test('job payloads: the right name, a strict { runId } and the job id Airlock derives', () => {
  const id = 'r0123456789abcde';
  const rows: Array<[string, Parameters<typeof jobRunId>, string | null]> = [
    ['plan', [{ name: 'plan', id: `plan-${id}`, data: { runId: id } }, 'plan'], id],
    ['apply', [{ name: 'apply', id: `apply-${id}`, data: { runId: id } }, 'apply'], id],
    ['expire', [{ name: 'expire', id: `expire-${id}-1796000000000`, data: { runId: id } }, 'expire'], id],
    ['traversal', [{ name: 'plan', id: 'plan-..', data: { runId: '..' } }, 'plan'], null],
    ['absolute', [{ name: 'plan', id: 'plan-/etc', data: { runId: '/etc' } }, 'plan'], null],
    ['NUL', [{ name: 'plan', id: `plan-${id}\0`, data: { runId: `${id}\0` } }, 'plan'], null],
    ['number', [{ name: 'apply', id: 'apply-1', data: { runId: 1 } }, 'apply'], null],
    ['extra field', [{ name: 'plan', id: `plan-${id}`, data: { runId: id, dir: '/' } }, 'plan'], null],
    ['no payload', [{ name: 'plan', id: `plan-${id}`, data: null }, 'plan'], null],
    ['wrong name', [{ name: 'apply', id: `plan-${id}`, data: { runId: id } }, 'plan'], null],
    ['job id of another run', [{ name: 'apply', id: 'apply-r0000000000000ff', data: { runId: id } }, 'apply'], null],
    ['expire id without time', [{ name: 'expire', id: `expire-${id}`, data: { runId: id } }, 'expire'], null],
  ];
  for (const [what, args, expected] of rows) assert.equal(jobRunId(...args), expected, what);
});

test('approval records: sealed by this runner, for this token and run, or quarantined', async (t) => {
  const { prefix, redis, log, quarantines } = await setup(t);
  const sealer = createSealer(randomBytes(32), 'victim');
  const store = new ApprovalStore(redis, prefix, sealer, log);
  const runId = deriveRunId('infra', 'default', 'a'.repeat(40));
  const view = planViewOf({ id: runId, repo: 'infra', workspace: 'default', pr: 1, sha: 'a'.repeat(40) }, { sha256: 'b'.repeat(64), tier: 'approve', reasons: [], summary: {} as never });
  const token = hashToken('t'.repeat(43));
  const binding = bindingFor(view, { channel: 'ntfy', approver: 'alice', phase: 'approve', expiresAt: new Date(Date.now() + 60_000), tokenHash: token, textSha256: 'c'.repeat(64) });
  await store.put(binding);
  assert.deepEqual((await store.peek(token))?.binding, binding, 'control: its own record is read');
  const sealed = JSON.parse((await redis.get(`${prefix}:approval:${token}`))!) as { mac: string; body: Record<string, unknown> };

  const forged = hashToken('f'.repeat(43));
  const rows: Array<[string, unknown]> = [
    ['unsealed', binding],
    ['moved to another token', sealed],
    ['rebound to another plan', { ...sealed, body: { ...sealed.body, tokenHash: forged, planSha256: 'd'.repeat(64) } }],
    ['a made-up seal', { v: 1, runner: 'victim', mac: 'e'.repeat(64), body: { ...sealed.body, tokenHash: forged } }],
    ['not JSON', 'nope'],
  ];
  for (const [what, value] of rows) {
    await redis.set(`${prefix}:approval:${forged}`, typeof value === 'string' ? value : JSON.stringify(value));
    const before = quarantines().length;
    assert.equal(await store.peek(forged), null, what);
    assert.equal(quarantines().length, before + 1, `${what}: one quarantine line`);
  }
  // Another runner's record on a shared prefix is theirs: named, not verified, not quarantined.
  await redis.set(`${prefix}:approval:${forged}`, JSON.stringify({ ...sealed, runner: 'other' }));
  assert.deepEqual(await store.peek(forged), { foreign: 'other' });
  // A forged tombstone is ignored; a real one reads back.
  await redis.set(`${prefix}:approval:${forged}:spent`, JSON.stringify({ v: 1, runner: 'victim', mac: 'a'.repeat(64), body: { runId, reason: 'already used' } }));
  assert.equal(await store.tombstone(forged), null);
  assert.deepEqual(await store.consumeToken(token, runId), binding);
  assert.deepEqual(await store.tombstone(token), { runId, reason: 'already used' });
  // Slot sets keep run ids only.
  await redis.zadd(`${prefix}:approvals-pending`, 1, '../../x', 2, runId);
  assert.deepEqual(await store.pendingRuns(), [runId]);
  assert.equal(await redis.zscore(`${prefix}:approvals-pending`, '../../x'), null, 'the junk entry is removed');
});

test('reply watermarks: past unix times only; a mark in the future would skip every new reply', async (t) => {
  const { prefix, redis, log, quarantines } = await setup(t);
  const marks = new ReplyWatermark(redis, prefix, log);
  const now = Math.floor(Date.now() / 1000);
  await marks.advance('topic', now - 10);
  assert.deepEqual(await marks.get(['topic']), new Map([['topic', now - 10]]), 'control');
  for (const value of [String(now + 86_400), '1e20', '-5', 'NaN', 'all', '1700000000.5']) {
    await redis.set(`${prefix}:ntfy:handled-at:topic`, value);
    assert.deepEqual(await marks.get(['topic']), new Map(), value);
  }
  assert.equal(quarantines().length, 6);
});

test('reply cursors: message ids only, never another `since=` value', async (t) => {
  const { prefix, redis, log, quarantines } = await setup(t);
  const cursor = new ReplyCursor(redis, prefix, log);
  await cursor.done('topic', 'AbCdEf123456');
  assert.equal(await cursor.last('topic'), 'AbCdEf123456', 'control');
  for (const value of ['all', 'latest', 'none', '0', '10m', '1700000000', '../x', 'a&poll=1']) {
    await redis.set(`${prefix}:ntfy:cursor:topic`, value);
    assert.equal(await cursor.last('topic'), null, value);
  }
  assert.equal(quarantines().length, 8);
});
