// The audit trail on the whole loop (real Redis, real git, the runner in-process): the agent, the PR's
// author and the approver are named and bound to the commit and plan bytes; agents cannot decide; the
// runner refuses an apply whose approval is not on the chain; canaries never reach the audit file.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { AuditRecord } from '../../src/audit/audit.ts';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { hasCode } from '../../src/errors.ts';
import { scrubber } from '../../src/log/scrub.ts';
import { setupLoop, TF_TWO } from '../e2e/loop-fixture.ts';
import { pushCommit } from '../git-fixtures.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { waitFor, waitForState } from '../support/harness.ts';

const isDouble = engineForTests().isDouble;
const AGENT = { name: 'Claude (agent)', email: 'claude-bot@agents.example' };
const agents = { 'claude-bot@agents.example': 'claude' };

async function planned(loop: Awaited<ReturnType<typeof setupLoop>>, pr: number, author = AGENT) {
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO.replace('one', `one-${pr}`) }, { refs: [`refs/pull/${pr}/head`], author });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  return { sha, id, run: await waitForState(loop.runner, id, ['awaiting_approval']) };
}

test('a run names its agent, author and approver, bound to the commit and plan by one fingerprint', async (t) => {
  const loop = await setupLoop(t, { extra: { audit: { agents } } });
  const { id, sha, run } = await planned(loop, 1);
  assert.equal(run.agent, 'claude');
  assert.equal(run.author, 'Claude (agent) <claude-bot@agents.example>');
  assert.equal(run.committer, 'Airlock Test <test@airlock.invalid>');
  const fp = run.fingerprint!;
  assert.equal(fp.planSha256, run.plan!.sha256);
  assert.equal(fp.treeId, run.plan!.treeId);
  assert.equal(fp.configHash, loop.loaded.hash);
  assert.equal(fp.engineVersion, run.plan!.engineVersion);
  assert.match(fp.lockFileHash, /^([0-9a-f]{64}|none)$/);
  assert.match(fp.sha256, /^[0-9a-f]{64}$/);

  const shown = await loop.cli('show', id);
  assert.match(shown.out, /proposed by agent claude \(author Claude \(agent\) <claude-bot@agents\.example>/);
  assert.match(shown.out, new RegExp(`fingerprint: ${fp.sha256}`));

  assert.equal((await loop.cli('approve', id, '--yes')).code, 0);
  await waitForState(loop.runner, id, ['applied']);
  const records = await readAuditRecords(loop.runner.cp.paths.auditDir, { run: id });
  const byType = (type: string) => records.find((r) => r.type === type) as AuditRecord;
  assert.deepEqual(byType('run.attributed').detail, { agent: 'claude', matchedBy: 'author' });
  assert.equal(byType('run.fingerprinted').detail?.['fingerprint'], fp.sha256);
  const granted = byType('approval.granted');
  assert.deepEqual(granted.actor, { kind: 'human', id: `os:${userInfo().username}` }, 'the approver, from the channel');
  assert.deepEqual(granted.subject && [granted.subject.sha, granted.subject.agent, granted.subject.author], [sha, 'claude', run.author]);
  assert.deepEqual(granted.plan && [granted.plan.sha256, granted.plan.fingerprint], [run.plan!.sha256, fp.sha256]);
  assert.equal(byType('apply.finished').plan?.fingerprint, fp.sha256);

  const witnessed = await waitFor('the witness after the apply', async () => loop.log.lines().find((l) => l['event'] === 'audit.witness' && l['reason'] === 'apply' && l['runId'] === id));
  assert.equal(witnessed['chain'], 'test.jsonl');
  const audited = await loop.cli('audit', 'show', '--run', id);
  assert.equal(audited.code, 0, audited.err);
  assert.match(audited.out, /proposed by agent claude; author Claude \(agent\)/);
  assert.match(audited.out, new RegExp(`fingerprint ${fp.sha256}`));
  assert.match(audited.out, /approval\.granted +human:os:/);
  assert.equal((await loop.cli('audit', 'verify')).code, 0);
  const tail = await loop.cli('audit', 'tail', '--json', '-n', '3');
  assert.deepEqual(tail.out.trim().split('\n').map((l) => (JSON.parse(l) as AuditRecord).type).at(-1), 'apply.finished');
  // The configured channel is `terminal`: deciding at the terminal is the ordinary path, not break-glass
  // (test/cli/operator-cli.test.ts has the decision beside ntfy that is).
  assert.equal(granted.detail?.['breakGlass'], false);
  const check = await loop.cli('audit', 'check');
  assert.equal(check.code, 0, check.out);
  assert.match(check.out, /^no findings in \d+ records on 2 chain\(s\)$/m);
});

test('an approval by an identity mapped as an agent is refused and audited; the run stays undecided', async (t) => {
  const me = `os:${userInfo().username}`;
  const loop = await setupLoop(t, { extra: { audit: { agents: { ...agents, [me]: 'claude' } } } });
  const { id } = await planned(loop, 2);
  const viaCli = await loop.cli('approve', id, '--yes');
  assert.equal(viaCli.code, 1);
  assert.match(viaCli.err, new RegExp(`${me} is an identity of the agent claude: an agent can never decide`));
  await assert.rejects(
    loop.runner.cp.approvals.decide({ decision: 'approve', by: { kind: 'human', id: 'claude-bot@agents.example' }, channel: 'ntfy', runId: id }),
    (err) => hasCode(err, 'airlock:approval-refused') && /an agent can never decide/.test((err as Error).message),
  );
  assert.equal((await loop.runner.cp.runs.get(id)).state, 'awaiting_approval');
  const refused = (await readAuditRecords(loop.runner.cp.paths.auditDir, { run: id })).filter((r) => r.type === 'approval.refused');
  assert.deepEqual(refused.map((r) => r.actor.id).sort(), ['claude-bot@agents.example', me].sort());
  for (const r of refused) assert.match(String(r.detail?.['reason']), /an agent can never decide/);
  if (isDouble) assert.equal((await loop.invocations('apply')).length, 0);
});

test('an apply whose approval is not on the audit chain is refused and alerted; nothing is applied', async (t) => {
  const loop = await setupLoop(t);
  const { id, run } = await planned(loop, 3);
  // Redis says approved, but no approval.granted was ever written: a tampered or bypassed control plane.
  await loop.runner.cp.runs.moveIf(id, ['awaiting_approval'], 'approved', {
    decision: { decision: 'approve', by: { kind: 'human', id: 'mallory' }, channel: 'ntfy', breakGlass: false, at: new Date().toISOString(), planSha256: run.plan!.sha256 },
  });
  await loop.runner.cp.enqueueApply(id);
  const failed = await waitForState(loop.runner, id, ['failed', 'applied', 'applying']);
  assert.equal(failed.state, 'failed');
  assert.equal(failed.error?.code, 'airlock:apply-unapproved');
  assert.match(failed.error?.message ?? '', /no approval of plan [0-9a-f]{64} for this run is on the audit chains/);
  if (isDouble) assert.equal((await loop.invocations('apply')).length, 0, 'nothing was applied');
  const refused = (await readAuditRecords(loop.runner.cp.paths.auditDir, { run: id })).find((r) => r.type === 'apply.refused');
  assert.equal(refused?.detail?.['code'], 'airlock:apply-unapproved');
  const alert = loop.log.lines().find((l) => l['event'] === 'audit.apply_unapproved');
  assert.equal(alert?.['runId'], id);
  assert.equal(alert?.['level'], 50);
});

test('canary secrets never appear in the audit file, whatever path they come in by', async (t) => {
  const CANARY = 'canary-6d2b-audit-trail-not-a-secret';
  scrubber.add(CANARY);
  const knobs: Record<string, string> = isDouble ? { AIRLOCK_DOUBLE_FAIL: 'apply', AIRLOCK_DOUBLE_STDERR: `Error: provider said token=${CANARY}` } : {};
  const loop = await setupLoop(t, { engineEnv: knobs });
  // An author name is pushed by the agent: it can carry anything, including a secret it read somewhere.
  const { id } = await planned(loop, 4, { name: `Agent ${CANARY}`, email: 'x@agents.example' });
  assert.equal((await loop.cli('approve', id, '--yes')).code, 0);
  await waitForState(loop.runner, id, isDouble ? ['failed'] : ['applied']);
  const files = [path.join(loop.runner.cp.paths.auditDir, 'test.jsonl'), path.join(loop.runner.cp.paths.auditDir, 'test-cli.jsonl')];
  const text = (await Promise.all(files.map((f) => readFile(f, 'utf8')))).join('');
  assert.ok(text.includes('Agent [scrubbed] <x@agents.example>'), 'the canary reached the audit path and was scrubbed');
  assert.ok(!text.includes(CANARY));
  for (const args of [['audit', 'show', '--run', id], ['audit', 'tail', '-n', '50'], ['audit', 'show', '--run', id, '--json']]) {
    const r = await loop.cli(...args);
    assert.ok(!(r.out + r.err).includes(CANARY), args.join(' '));
  }
  assert.equal((await loop.cli('audit', 'verify')).code, 0);
});
