// The apply's own look at the record: an approval of exactly this run, commit and plan, by a human who
// is not an agent, before the request expired, in the verified part of some chain. The lookup reads
// only what was appended since the last apply, and starts over when a chain file is replaced.
import assert from 'node:assert/strict';
import { appendFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { Actor, Run } from '../../src/run/run.ts';
import { RUNNER_ACTOR, type AuditInput } from '../../src/audit/audit.ts';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { createApprovalLookup } from '../../src/audit/approval-on-record.ts';
import { agentForApprover } from '../../src/audit/attribution.ts';
import { Scrubber } from '../../src/log/scrub.ts';
import { removeDir, tempDir } from '../support/harness.ts';
import { readLines, writeLines } from './chain-fixture.ts';

const PLAN = 'a'.repeat(64);
const SHA = 'c'.repeat(40);

function runFor(over: Partial<Run> = {}): Run {
  return {
    id: 'r1',
    repo: 'infra',
    ref: 'refs/pull/1/head',
    pr: 1,
    sha: SHA,
    workspace: 'default',
    state: 'approved',
    version: 3,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    plan: { sha256: PLAN, summary: { counts: { create: 1, update: 0, delete: 0, replace: 0 } } as never, tier: 'approve', reasons: [], engineVersion: '1.11.4', treeId: 'd'.repeat(40) },
    ...over,
  };
}

function granted(over: { run?: string; plan?: string; actor?: Actor } = {}): AuditInput {
  return {
    type: 'approval.granted',
    run: over.run ?? 'r1',
    actor: over.actor ?? { kind: 'human', id: 'alice' },
    subject: { repo: 'infra', pr: 1, ref: 'refs/pull/1/head', sha: SHA, workspace: 'default' },
    plan: { sha256: over.plan ?? PLAN, tier: 'approve' },
    detail: { channel: 'ntfy', breakGlass: false },
  };
}

async function setup(t: import('node:test').TestContext) {
  const dir = await tempDir('on-record');
  const runner = await AuditLog.open(path.join(dir, 'airlock.jsonl'), { scrubber: new Scrubber() });
  const cli = await AuditLog.open(path.join(dir, 'airlock-cli.jsonl'), { scrubber: new Scrubber() });
  t.after(async () => {
    await runner.close();
    await cli.close();
    await removeDir(dir);
  });
  const lookup = createApprovalLookup(dir, { agentFor: (id) => agentForApprover({ 'claude-bot@agents.example': 'claude' }, id) });
  return { dir, runner, cli, lookup };
}

test('no approval on record: refused with the reason; an approval appended later is found on the next look', async (t) => {
  const { runner, cli, lookup } = await setup(t);
  await runner.append({ type: 'approval.requested', run: 'r1', actor: RUNNER_ACTOR, detail: {} });
  const miss = await lookup.find(runFor());
  assert.equal(miss.ok, false);
  assert.match(!miss.ok ? miss.reason : '', new RegExp(`no approval of plan ${PLAN} for this run is on the audit chains`));
  const record = await cli.append(granted());
  assert.deepEqual(await lookup.find(runFor()), { ok: true, chain: 'airlock-cli.jsonl', seq: record.seq });
});

test('approvals that do not match say why: another plan, another run, an agent', async (t) => {
  const { runner, lookup } = await setup(t);
  await runner.append(granted({ plan: 'b'.repeat(64) }));
  await runner.append(granted({ run: 'r2' }));
  await runner.append(granted({ actor: { kind: 'human', id: 'claude-bot@agents.example' } }));
  const miss = await lookup.find(runFor());
  assert.equal(miss.ok, false);
  const reason = !miss.ok ? miss.reason : '';
  assert.match(reason, /airlock\.jsonl seq 1 approves a different plan file/);
  assert.match(reason, /airlock\.jsonl seq 3 was given by claude-bot@agents\.example, an identity of agent claude/);
  assert.doesNotMatch(reason, /seq 2/, 'other runs are not even considered');
});

test('an approval given after the request expired does not count', async (t) => {
  const { runner, lookup } = await setup(t);
  await runner.append(granted());
  const expired = await lookup.find(runFor({ approval: { requestedAt: '2020-01-01T00:00:00.000Z', expiresAt: '2020-01-01T00:15:00.000Z', tier: 'approve', channel: 'ntfy' } }));
  assert.match(!expired.ok ? expired.reason : '', /after the request expired/);
});

test('a line being written is skipped until it is complete; a damaged chain stops counting at the damage', async (t) => {
  const { dir, runner, lookup } = await setup(t);
  await runner.append({ type: 'plan.started', run: 'r1', actor: RUNNER_ACTOR });
  const partial = path.join(dir, 'other.jsonl');
  await appendFile(partial, '{"seq":1,"type":"approval.gr');
  assert.equal((await lookup.find(runFor())).ok, false, 'a half-written line is not a break, and not an approval');

  const approved = await runner.append(granted());
  assert.equal((await lookup.find(runFor())).ok, true);
  // Damage before the approval: a fresh lookup (a restarted runner) no longer trusts it.
  const file = path.join(dir, 'airlock.jsonl');
  await writeLines(file, (await readLines(file)).map((l, i) => (i === 0 ? l.replace('plan.started', 'plan.STARTED') : l)));
  const fresh = createApprovalLookup(dir);
  const after = await fresh.find(runFor());
  assert.equal(after.ok, false);
  assert.match(!after.ok ? after.reason : '', /airlock\.jsonl is damaged at seq 1 \(edited\)/);
  assert.equal(approved.seq, 2);
});

test('a chain file that was replaced is read again from the start', async (t) => {
  const { dir, runner, lookup } = await setup(t);
  await runner.append(granted());
  assert.equal((await lookup.find(runFor())).ok, true);
  await runner.close();
  await rm(path.join(dir, 'airlock.jsonl'));
  const fresh = await AuditLog.open(path.join(dir, 'airlock.jsonl'), { scrubber: new Scrubber() });
  await fresh.append({ type: 'plan.started', run: 'r1', actor: RUNNER_ACTOR });
  await fresh.close();
  assert.equal((await lookup.find(runFor())).ok, false, 'the approval went with the old file');
});
