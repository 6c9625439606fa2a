// The approval service on real Redis and a real audit log, with a channel that records what it was asked
// to send: single use, first decision wins, two taps for destroys, older plans, expiry, the pending cap.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import pino from 'pino';
import { emptyCounts } from '../../src/plan/summary.ts';
import { RunStore } from '../../src/run/run-store.ts';
import { createRunTransitions } from '../../src/run/transitions.ts';
import type { Run } from '../../src/run/run.ts';
import { ApprovalStore } from '../../src/approve/approval-store.ts';
import { createApprovalService, type ApprovalChannel, type RequestPhase } from '../../src/approve/approval-service.ts';
import { bindingFor, hashToken } from '../../src/approve/approve.ts';
import { createSealer } from '../../src/approve/approval-seal.ts';
import { planViewOf, type PlanView } from '../../src/approve/plan-view.ts';
import { ApprovalRefusedError } from '../../src/approve/errors.ts';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { Scrubber } from '../../src/log/scrub.ts';
import type { Tier } from '../../src/policy/policy.ts';
import { deletePrefix, REDIS_URL, removeDir, tempDir, testPrefix } from '../support/harness.ts';

interface Delivery {
  runId: string;
  phase: RequestPhase;
  requests: Array<{ approver: string | null; token: string }>;
}

async function setup(t: TestContext, opts: { maxPending?: number; failDelivery?: boolean; agents?: Record<string, string> } = {}) {
  const prefix = testPrefix();
  const dir = await tempDir('approval-service');
  const redis = new Redis(REDIS_URL);
  const runs = new RunStore(redis, prefix);
  const store = new ApprovalStore(redis, prefix, createSealer(randomBytes(32), 'test'));
  // The plan job writes a view per planned run; here they are kept in memory.
  const views = new Map<string, PlanView>();
  const audit = await AuditLog.open(path.join(dir, 'audit', 'test.jsonl'), { scrubber: new Scrubber(), lockWaitMs: 0 });
  const clock = { now: Date.now() };
  const delivered: Delivery[] = [];
  const announced: Array<[string, string]> = [];
  const enqueued: string[] = [];
  const channel: ApprovalChannel = {
    name: 'ntfy',
    approvers: () => ['alice', 'bob'],
    async deliver(run, requests, _expiresAt, phase) {
      if (opts.failDelivery) throw new Error('ntfy is down');
      delivered.push({ runId: run.id, phase, requests });
    },
    async announce(run, outcome) {
      announced.push([run.id, outcome]);
    },
  };
  const transitions = createRunTransitions({ runs, audit, log: pino({ level: 'silent' }) });
  const moves: string[] = [];
  transitions.subscribe((e) => void moves.push(`${e.run.id} ${e.from}->${e.to} ${e.type}`));
  const service = createApprovalService({
    runs,
    transitions,
    approvals: store,
    audit,
    channel,
    ttlMs: 15 * 60_000,
    confirmTtlMs: 5 * 60_000,
    maxPending: opts.maxPending ?? 20,
    sendsHeld: true,
    enqueueApply: async (id) => void enqueued.push(id),
    scheduleExpiry: async () => undefined,
    planView: async (id) => views.get(id) ?? null,
    log: pino({ level: 'silent' }),
    now: () => new Date(clock.now),
    agentFor: (id) => opts.agents?.[id] ?? null,
  });
  t.after(async () => {
    await audit.close();
    redis.disconnect();
    await deletePrefix(prefix);
    await removeDir(dir);
  });

  async function planned(pr: number, tier: Tier = 'approve'): Promise<Run> {
    const { run } = await runs.create({ repo: 'infra', ref: `refs/pull/${pr}/head`, pr, sha: randomBytes(20).toString('hex'), workspace: 'default', seenAt: clock.now++ });
    const counts = { ...emptyCounts(), create: 1, delete: tier === 'confirm' ? 1 : 0 };
    const changes = [...(tier === 'confirm' ? [{ address: 'terraform_data.old', action: 'delete' as const }] : []), { address: 'terraform_data.new', action: 'create' as const }];
    const summary = { formatVersion: '1.2', engineVersion: '1.11.4', counts, changes, listed: changes.length, total: changes.length, errored: false };
    const plan = { sha256: randomBytes(32).toString('hex'), summary, tier, reasons: [], engineVersion: '1.11.4', treeId: 'e'.repeat(40) };
    views.set(run.id, planViewOf(run, plan));
    return (await runs.update(run.id, (r) => ({ ...r, plan })))!;
  }

  const tokenOf = (runId: string, approver: string, phase: RequestPhase = 'approve') =>
    delivered.filter((d) => d.runId === runId && d.phase === phase).flatMap((d) => d.requests).find((r) => r.approver === approver)!.token;

  const tap = (token: string, approver: string, decision: 'approve' | 'deny' = 'approve') =>
    service.decide({ decision, token, by: { kind: 'human', id: approver }, channel: 'ntfy', approver });

  async function refusal(p: Promise<unknown>): Promise<string> {
    const err = await p.then(() => null, (e: unknown) => e);
    assert.ok(err instanceof ApprovalRefusedError, `expected a refusal, got ${String(err)}`);
    return err.reason;
  }

  const refusals = async (runId: string) => (await readAuditRecords(path.join(dir, 'audit'), { run: runId })).filter((r) => r.type === 'approval.refused').map((r) => r.detail?.['reason']);

  return { service, runs, store, clock, delivered, announced, enqueued, planned, tokenOf, tap, refusal, refusals, dir, views };
}

test('one tap approves; the same nonce again is a replay, the other approver\'s is void', async (t) => {
  const s = await setup(t);
  const run = await s.service.request(await s.planned(1));
  assert.equal(run.state, 'awaiting_approval');
  assert.deepEqual(s.delivered.map((d) => [d.phase, d.requests.map((r) => r.approver)]), [['approve', ['alice', 'bob']]]);
  const [a, b] = s.delivered[0]!.requests;
  assert.notEqual(a!.token, b!.token, 'a separate nonce per approver');
  assert.ok(Buffer.from(a!.token, 'base64url').length >= 16, 'at least 128 bits');

  const approved = await s.tap(s.tokenOf(run.id, 'alice'), 'alice');
  assert.equal(approved.state, 'approved');
  assert.deepEqual(approved.decision?.by, { kind: 'human', id: 'alice' });
  assert.deepEqual(s.enqueued, [run.id]);
  assert.deepEqual(s.announced, [[run.id, 'approved']]);

  assert.equal(await s.refusal(s.tap(s.tokenOf(run.id, 'alice'), 'alice', 'deny')), 'replayed: this nonce was already used');
  assert.equal(await s.refusal(s.tap(s.tokenOf(run.id, 'bob'), 'bob', 'deny')), 'void: another decision on this run came first');
  assert.equal((await s.runs.get(run.id)).state, 'approved');
  assert.deepEqual(s.enqueued, [run.id], 'still exactly one apply queued');
  assert.deepEqual(await s.refusals(run.id), ['replayed: this nonce was already used', 'void: another decision on this run came first']);
});

test('deny: the run is denied and nothing is queued', async (t) => {
  const s = await setup(t);
  const run = await s.service.request(await s.planned(2));
  assert.equal((await s.tap(s.tokenOf(run.id, 'bob'), 'bob', 'deny')).state, 'denied');
  assert.deepEqual(s.enqueued, []);
  assert.deepEqual(s.announced, [[run.id, 'denied']]);
});

test('a destroying plan needs two taps: the first asks the same approver to confirm with a fresh nonce', async (t) => {
  const s = await setup(t);
  const run = await s.service.request(await s.planned(3, 'confirm'));
  const first = await s.tap(s.tokenOf(run.id, 'alice'), 'alice');
  assert.equal(first.state, 'awaiting_approval');
  assert.equal(first.approval?.phase, 'confirm');
  assert.deepEqual(first.approval?.firstApproval?.by, { kind: 'human', id: 'alice' });
  assert.deepEqual(s.enqueued, [], 'the first tap alone applies nothing');
  const confirm = s.delivered.filter((d) => d.phase === 'confirm');
  assert.deepEqual(confirm.map((d) => d.requests.map((r) => r.approver)), [['alice']]);
  const confirmToken = confirm[0]!.requests[0]!.token;
  assert.notEqual(confirmToken, s.tokenOf(run.id, 'alice'));

  assert.equal(await s.refusal(s.tap(s.tokenOf(run.id, 'alice'), 'alice')), 'replayed: this nonce was already used');
  assert.equal(await s.refusal(s.tap(s.tokenOf(run.id, 'bob'), 'bob')), 'void: another decision on this run came first');
  assert.match(await s.refusal(s.tap(confirmToken, 'bob')), /issued to alice, but the reply came on bob's reply topic/);
  const approved = await s.tap(confirmToken, 'alice');
  assert.equal(approved.state, 'approved');
  assert.deepEqual(s.enqueued, [run.id]);
});

test('approve and deny racing on one nonce, and two approvers racing: one decision, at most one apply', async (t) => {
  const s = await setup(t);
  for (let i = 0; i < 15; i++) {
    const run = await s.service.request(await s.planned(100 + i));
    const token = s.tokenOf(run.id, 'alice');
    const racers = i % 2 === 0
      ? [s.tap(token, 'alice', 'approve'), s.tap(token, 'alice', 'deny')]
      : [s.tap(token, 'alice', 'approve'), s.tap(s.tokenOf(run.id, 'bob'), 'bob', 'deny')];
    const results = await Promise.allSettled(racers);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `exactly one decision counted (round ${i})`);
    const state = (await s.runs.get(run.id)).state;
    assert.equal(s.enqueued.filter((id) => id === run.id).length, state === 'approved' ? 1 : 0);
  }
});

test('a nonce from an older plan of the same PR is refused, before and after the supersede', async (t) => {
  const s = await setup(t);
  const older = await s.service.request(await s.planned(4));
  const newer = await s.planned(4);
  assert.equal(await s.refusal(s.tap(s.tokenOf(older.id, 'alice'), 'alice')), 'superseded by a newer head');
  await s.service.supersede(older.id, newer.id);
  assert.equal(await s.refusal(s.tap(s.tokenOf(older.id, 'bob'), 'bob')), 'void: the run was superseded by a newer head');
  assert.deepEqual(s.enqueued, []);
  assert.ok(s.announced.some(([id, o]) => id === older.id && o === 'superseded'));
});

test('superseded for a reason rather than by a newer run (a deleted ref, a newer head of a drift-checked ref): the run still reads back', async (t) => {
  const s = await setup(t);
  const run = await s.service.request(await s.planned(6));
  const moved = await s.service.supersede(run.id, 'the ref was deleted');
  assert.equal(moved?.state, 'superseded');
  // A reason is not a run id: stored as such, a read would quarantine the run (run-schema.ts).
  const read = await s.runs.find(run.id);
  assert.equal(read?.state, 'superseded');
  assert.equal(read?.supersededReason, 'the ref was deleted');
  assert.equal(read?.supersededBy, undefined);
  assert.equal(await s.refusal(s.tap(s.tokenOf(run.id, 'alice'), 'alice')), 'void: the run was superseded by a newer head');
  const records = (await readAuditRecords(path.join(s.dir, 'audit'), { run: run.id })).filter((r) => r.type === 'run.superseded');
  assert.equal(records[0]?.detail?.['supersededBy'], 'the ref was deleted');
});

test('late taps: expired before the timer ran, void after it; a planning run and unknown nonces are refused', async (t) => {
  const s = await setup(t);
  const run = await s.service.request(await s.planned(5));
  s.clock.now += 16 * 60_000;
  assert.equal(await s.refusal(s.tap(s.tokenOf(run.id, 'alice'), 'alice')), 'expired');
  assert.equal((await s.service.expire(run.id))?.state, 'expired');
  assert.equal(await s.refusal(s.tap(s.tokenOf(run.id, 'bob'), 'bob')), 'void: the request expired');
  assert.deepEqual(s.announced, [[run.id, 'expired']]);

  // A binding can only exist for a durable plan, but even one pointing at a run still planning is refused.
  const planning = await s.planned(6);
  const token = 'x'.repeat(43);
  await s.store.put(bindingFor(planViewOf(planning, planning.plan!), { channel: 'ntfy', approver: 'alice', phase: 'approve', expiresAt: new Date(s.clock.now + 60_000), tokenHash: hashToken(token), textSha256: 'f'.repeat(64) }));
  assert.equal(await s.refusal(s.tap(token, 'alice')), 'run is planning');
  assert.equal(await s.refusal(s.tap('y'.repeat(43), 'alice')), 'unknown nonce');
  assert.deepEqual(s.enqueued, []);
});

test('the pending cap holds requests back and sends them as earlier ones are answered', async (t) => {
  const s = await setup(t, { maxPending: 2 });
  const a = await s.service.request(await s.planned(7));
  const b = await s.service.request(await s.planned(8));
  const c = await s.service.request(await s.planned(9));
  assert.equal(c.state, 'awaiting_approval');
  assert.equal(c.approval?.held, true);
  assert.deepEqual(s.delivered.map((d) => d.runId), [a.id, b.id], 'the third waits');
  assert.match(await s.refusal(s.service.decide({ decision: 'approve', by: { kind: 'human', id: 'os:root' }, channel: 'terminal', runId: c.id })), /held back/);
  await s.service.expire(c.id);
  assert.equal((await s.runs.get(c.id)).state, 'awaiting_approval', 'a held request does not expire');

  await s.tap(s.tokenOf(a.id, 'alice'), 'alice', 'deny');
  assert.deepEqual(s.delivered.map((d) => d.runId), [a.id, b.id, c.id], 'the held one went out when a slot freed');
  const sent = await s.runs.get(c.id);
  assert.equal(sent.approval?.held, false);
  assert.equal((await s.tap(s.tokenOf(c.id, 'bob'), 'bob')).state, 'approved');
  assert.deepEqual(s.announced.filter(([id]) => id === c.id), [[c.id, 'approved']]);
});

test('break-glass beside the channel: needs --confirm for destroys; an agent identity is refused', async (t) => {
  const s = await setup(t, { agents: { 'os:claude': 'claude' } });
  const run = await s.service.request(await s.planned(10, 'confirm'));
  const root = { kind: 'human' as const, id: 'os:root' };
  assert.match(await s.refusal(s.service.decide({ decision: 'approve', by: root, channel: 'terminal', runId: run.id })), /explicit confirmation/);
  assert.match(await s.refusal(s.service.decide({ decision: 'approve', by: { kind: 'human', id: 'os:claude' }, channel: 'terminal', runId: run.id, confirmed: true })), /agent claude/);
  const approved = await s.service.decide({ decision: 'approve', by: root, channel: 'terminal', runId: run.id, confirmed: true });
  assert.equal(approved.decision?.breakGlass, true);
  assert.equal(await s.refusal(s.tap(s.tokenOf(run.id, 'alice'), 'alice')), 'void: the run was decided on the runner host');
  assert.deepEqual(s.enqueued, [run.id]);
});

test('a channel that cannot deliver leaves the request pending and says so on the record', async (t) => {
  const s = await setup(t, { failDelivery: true });
  const run = await s.service.request(await s.planned(11));
  assert.equal(run.state, 'awaiting_approval');
  const records = await readAuditRecords(path.join(s.dir, 'audit'), { run: run.id });
  assert.deepEqual(records.map((r) => r.type), ['approval.requested', 'approval.undelivered']);
  assert.match(String(records[1]!.detail?.['message']), /ntfy is down/);
});

test('bindings are stored before the run shows as waiting, so a decision right then never misses them', async (t) => {
  const s = await setup(t);
  const run = await s.planned(40);
  const statesAtPut: string[] = [];
  const put = s.store.put.bind(s.store);
  s.store.put = async (binding) => {
    statesAtPut.push((await s.runs.find(binding.runId))!.state);
    await put(binding);
  };
  await s.service.request(run);
  assert.deepEqual(statesAtPut, ['planning', 'planning'], 'one binding per approver, each stored while the run was still planning');
  // Break-glass on a run that is not waiting is refused before anything is consumed.
  const planning = await s.planned(41);
  assert.equal(await s.refusal(s.service.decide({ decision: 'deny', by: { kind: 'human', id: 'os:root' }, channel: 'terminal', runId: planning.id })), 'run is planning');
});

test('a slot leaked by a run that stopped waiting never holds a request back, and free slots cost no run reads', async (t) => {
  const s = await setup(t, { maxPending: 2 });
  // A crash left both slots claimed for runs that are gone.
  const gone = { id: `r${'e'.repeat(15)}` };
  await s.store.claimSlot(gone.id, 2);
  await s.store.claimSlot(`r${'f'.repeat(15)}`, 2);
  const reads: string[] = [];
  const find = s.runs.find.bind(s.runs);
  s.runs.find = async (id) => {
    reads.push(id);
    return find(id);
  };
  const run = await s.service.request(await s.planned(61));
  assert.equal(run.approval?.held, undefined, 'the request went out: the leaked slots were found and freed');
  assert.deepEqual(s.delivered.map((d) => d.runId), [run.id]);
  const others = (id: string) => reads.filter((r) => r !== id);
  assert.deepEqual(others(run.id).sort(), [gone.id, `r${'f'.repeat(15)}`].sort(), 'only the runs holding a slot were read');

  // With a slot free, a request reads no other run to tidy.
  reads.length = 0;
  const next = await s.service.request(await s.planned(62));
  assert.deepEqual(s.delivered.map((d) => d.runId), [run.id, next.id]);
  assert.deepEqual(others(next.id), []);
});
