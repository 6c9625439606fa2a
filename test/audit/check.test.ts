// Detection: `checkChain` over records (pure, a table), and `airlock audit check` over chain files,
// which finds a planted apply that has no matching approval and exits non-zero.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { Actor } from '../../src/run/run.ts';
import { GENESIS, RUNNER_ACTOR, sealRecord, type AuditInput, type AuditRecord } from '../../src/audit/audit.ts';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { agentForApprover } from '../../src/audit/attribution.ts';
import { approvalMismatch, checkChain, type ChainRecord } from '../../src/audit/check.ts';
import { main } from '../../src/cli/main.ts';
import { Scrubber } from '../../src/log/scrub.ts';
import { POLICY_ACTOR } from '../../src/jobs/policy-steps.ts';
import { removeDir, tempDir } from '../support/harness.ts';

const PLAN = 'a'.repeat(64);
const OTHER_PLAN = 'b'.repeat(64);
const SHA = 'c'.repeat(40);
const HUMAN: Actor = { kind: 'human', id: 'alice' };
const AGENTS = { 'claude-bot@agents.example': 'claude' };
const agentFor = (id: string) => agentForApprover(AGENTS, id);

function input(type: string, over: { run?: string; actor?: Actor; plan?: string; tier?: string; detail?: Record<string, unknown> } = {}): AuditInput {
  return {
    type,
    run: over.run ?? 'r1',
    actor: over.actor ?? RUNNER_ACTOR,
    subject: { repo: 'infra', pr: 1, ref: 'refs/pull/1/head', sha: SHA, workspace: 'default' },
    plan: { sha256: over.plan ?? PLAN, counts: { create: 1 }, tier: over.tier ?? 'approve' },
    detail: over.detail ?? {},
  };
}

/** A chain from (input, minutes after t0) pairs. */
function chain(entries: Array<[AuditInput, number]>, name = 'runner.jsonl'): ChainRecord[] {
  let head = { seq: 0, hash: GENESIS };
  return entries.map(([i, minutes]) => {
    const record = sealRecord(i, head, new Date(Date.UTC(2026, 0, 1, 12, minutes)));
    head = { seq: record.seq, hash: record.hash };
    return { chain: name, record };
  });
}

const requested = (expiresMinute = 15) => input('approval.requested', { detail: { channel: 'ntfy', expiresAt: new Date(Date.UTC(2026, 0, 1, 12, expiresMinute)).toISOString() } });
const granted = (over: Parameters<typeof input>[1] = {}) => input('approval.granted', { actor: HUMAN, detail: { channel: 'ntfy', breakGlass: false }, ...over });

const cases: Array<{ name: string; entries: Array<[AuditInput, number]>; expect: string[] }> = [
  { name: 'requested → granted → applied', entries: [[requested(), 0], [granted(), 1], [input('apply.started'), 2]], expect: [] },
  { name: 'an apply with no approval at all', entries: [[requested(), 0], [input('apply.started'), 2]], expect: ['apply-without-approval'] },
  { name: 'an approval of another plan file', entries: [[requested(), 0], [granted({ plan: OTHER_PLAN }), 1], [input('apply.started'), 2]], expect: ['apply-without-approval'] },
  { name: 'an approval of another run', entries: [[requested(), 0], [granted({ run: 'r2' }), 1], [input('apply.started'), 2]], expect: ['apply-without-approval'] },
  { name: 'an approval recorded after the apply started', entries: [[requested(), 0], [input('apply.started'), 2], [granted(), 3]], expect: ['apply-without-approval'] },
  { name: 'an approval after expiry', entries: [[requested(15), 0], [granted(), 20], [input('apply.started'), 21]], expect: ['approval-after-expiry'] },
  {
    name: 'a confirmed destructive approval, inside the confirm request\'s own expiry',
    entries: [[requested(15), 0], [input('approval.confirm-requested', { actor: HUMAN, detail: { expiresAt: new Date(Date.UTC(2026, 0, 1, 12, 19)).toISOString() } }), 14], [granted(), 17], [input('apply.started'), 18]],
    expect: [],
  },
  { name: 'an approval by an agent identity', entries: [[requested(), 0], [granted({ actor: { kind: 'human', id: 'claude-bot@agents.example' } }), 1], [input('apply.started'), 2]], expect: ['agent-decision', 'apply-without-approval'] },
  { name: 'an approval by an agent actor', entries: [[requested(), 0], [granted({ actor: { kind: 'agent', id: 'claude' } }), 1], [input('apply.started'), 2]], expect: ['agent-decision', 'apply-without-approval'] },
  { name: 'a break-glass approval', entries: [[requested(), 0], [granted({ actor: { kind: 'human', id: 'os:alice' }, detail: { channel: 'terminal', breakGlass: true } }), 1], [input('apply.started'), 2]], expect: ['break-glass'] },
  { name: 'a break-glass denial', entries: [[requested(), 0], [input('approval.denied', { actor: { kind: 'human', id: 'os:alice' }, detail: { breakGlass: true } }), 1]], expect: ['break-glass'] },
  { name: 'the policy approving tier auto', entries: [[granted({ actor: POLICY_ACTOR, tier: 'auto' }), 0], [input('apply.started', { tier: 'auto' }), 1]], expect: [] },
  { name: 'the policy "approving" tier approve', entries: [[granted({ actor: POLICY_ACTOR, tier: 'approve' }), 0], [input('apply.started'), 1]], expect: ['apply-without-approval'] },
];

for (const c of cases) {
  test(`checkChain: ${c.name} → ${c.expect.join(', ') || 'no findings'}`, () => {
    const findings = checkChain(chain(c.entries), { agentFor });
    assert.deepEqual(findings.map((f) => f.kind).sort(), [...c.expect].sort());
  });
}

// Break-glass means bypassing the configured channel (`approval.channel`), not using it. An older runner
// recorded every terminal decision as break-glass; with the configured channel known, those do not count.
const terminalDecision = (breakGlass: boolean) => granted({ actor: { kind: 'human', id: 'os:alice' }, detail: { channel: 'terminal', breakGlass } });
const channelCases: Array<{ name: string; configured: string; decision: AuditInput; expect: string[] }> = [
  { name: 'a terminal decision when terminal is the channel', configured: 'terminal', decision: terminalDecision(false), expect: [] },
  { name: 'an old terminal decision marked break-glass, terminal configured', configured: 'terminal', decision: terminalDecision(true), expect: [] },
  { name: 'a terminal decision beside ntfy', configured: 'ntfy', decision: terminalDecision(true), expect: ['break-glass'] },
  { name: 'an ntfy decision, ntfy configured', configured: 'ntfy', decision: granted(), expect: [] },
];
for (const c of channelCases) {
  test(`checkChain with approval.channel ${c.configured}: ${c.name} → ${c.expect.join(', ') || 'no findings'}`, () => {
    const findings = checkChain(chain([[requested(), 0], [c.decision, 1], [input('apply.started'), 2]]), { agentFor, configuredChannel: c.configured });
    assert.deepEqual(findings.map((f) => f.kind), c.expect);
  });
}

test('checkChain matches an approval on one chain with an apply on another', () => {
  const cli = chain([[granted(), 1]], 'airlock-cli.jsonl');
  const runner = chain([[requested(), 0], [input('apply.started'), 2]], 'airlock.jsonl');
  assert.deepEqual(checkChain([...runner, ...cli]), []);
  const planted = checkChain(runner);
  assert.equal(planted.length, 1);
  assert.deepEqual([planted[0]!.kind, planted[0]!.chain, planted[0]!.seq, planted[0]!.run], ['apply-without-approval', 'airlock.jsonl', 2, 'r1']);
});

test('approvalMismatch says why a record does not approve a plan', () => {
  const [g] = chain([[granted(), 1]]) as [ChainRecord];
  const target = { run: 'r1', sha: SHA, planSha256: PLAN, tier: 'approve' };
  assert.equal(approvalMismatch(g.record, target), null);
  assert.match(approvalMismatch(g.record, { ...target, planSha256: OTHER_PLAN }) ?? '', /different plan/);
  assert.match(approvalMismatch(g.record, { ...target, sha: 'd'.repeat(40) }) ?? '', /different commit/);
  assert.match(approvalMismatch(g.record, { ...target, expiresAt: '2026-01-01T11:00:00.000Z' }) ?? '', /after the request expired/);
});

test('`airlock audit check` finds a planted apply with no approval and exits 1; a clean chain exits 0', async (t) => {
  const dir = await tempDir('check');
  t.after(() => removeDir(dir));
  const log = await AuditLog.open(path.join(dir, 'runner.jsonl'), { scrubber: new Scrubber() });
  for (const i of [requested(60 * 24 * 365), granted({ run: 'r1' })]) await log.append(i);
  await log.append({ ...input('apply.started'), run: 'r1' });
  let out = '';
  const run = async (...args: string[]) => {
    out = '';
    return main(['node', 'airlock', 'audit', 'check', '--file', dir, ...args], { out: (s) => (out += `${s}\n`), err: (s) => (out += `${s}\n`), isTTY: false });
  };
  assert.equal(await run(), 0, out);
  assert.match(out, /no findings in 3 records on 1 chain/);

  // Planted: an apply.started for a run nobody approved, appended with a valid hash link.
  const planted = await log.append({ ...input('apply.started', { run: 'r-planted', plan: OTHER_PLAN }) });
  await log.close();
  assert.equal(await run(), 1, out);
  assert.match(out, new RegExp(`apply-without-approval +runner\\.jsonl seq ${planted.seq} .*run r-planted`));
  assert.equal(await run('--json'), 1);
  const report = JSON.parse(out) as { ok: boolean; findings: Array<{ kind: string; run: string; seq: number }> };
  assert.equal(report.ok, false);
  assert.deepEqual(report.findings.map((f) => [f.kind, f.run, f.seq]), [['apply-without-approval', 'r-planted', planted.seq]]);
});

test('records in a damaged part of a chain are not trusted by check', async (t) => {
  const dir = await tempDir('check-damaged');
  t.after(() => removeDir(dir));
  const records: AuditRecord[] = chain([[requested(), 0], [granted(), 1], [input('apply.started'), 2]]).map((c) => c.record);
  // The approval line was edited: it no longer counts, and the damage itself is reported.
  records[1] = { ...records[1]!, actor: { kind: 'human', id: 'mallory' } };
  await writeFile(path.join(dir, 'runner.jsonl'), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  let out = '';
  const code = await main(['node', 'airlock', 'audit', 'check', '--file', dir], { out: (s) => (out += `${s}\n`), err: (s) => (out += `${s}\n`), isTTY: false });
  assert.equal(code, 1);
  assert.match(out, /chain-damaged +runner\.jsonl seq 2 edited/);
});
