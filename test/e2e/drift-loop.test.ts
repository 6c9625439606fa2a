// Drift checks end to end, in one runner with real git, Redis and the engine under test: a drift run of
// refs/heads/main plans with the plan identity like any run; in sync ends quietly and moves the
// workspace's last-in-sync time; drift (objects changed outside of the engine) reaches the approvers
// apart from the code's changes, and re-converging is an ordinary approved apply.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { readPlanView, renderApprovalText } from '../../src/approve/plan-view.ts';
import { deriveRunId, type Run } from '../../src/run/run.ts';
import { pushCommit } from '../git-fixtures.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { waitFor, waitForState } from '../support/harness.ts';
import { setupLoop, TF_TWO, type Loop } from './loop-fixture.ts';

const isDouble = engineForTests().isDouble;
const CANARY = 'CANARY-drift-5e1f-never-shown';
// A yearly schedule: this test fires checks itself with `airlock drift --now`.
const DRIFT = { schedule: '0 0 1 1 *', ref: 'refs/heads/main', jitter: '0s' };

/** Queue a drift check now through the CLI and wait for the runner to make it a drift run. */
async function checkNow(loop: Loop, seen: Set<string>): Promise<Run> {
  const queued = await loop.cli('drift', 'infra/default', '--now');
  assert.equal(queued.code, 0, queued.err);
  return waitFor('a new drift run', async () => {
    const fresh = (await loop.runner.cp.runs.list(50)).find((r) => r.kind === 'drift' && !seen.has(r.id));
    if (fresh) seen.add(fresh.id);
    return fresh;
  });
}

async function requests(loop: Loop, runId: string): Promise<number> {
  return (await readAuditRecords(loop.runner.cp.paths.auditDir, { run: runId })).filter((r) => r.type === 'approval.requested').length;
}

test('drift: in sync is quiet, drift is shown apart from code changes, approving re-converges', async (t) => {
  const loop = await setupLoop(t, { workspaces: [{ name: 'default', dir: '.', drift: DRIFT }] });
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/heads/main'] });
  const seen = new Set<string>();

  // 1. Nothing applied yet: the first check finds the code's own changes, and asks like any run.
  const first = await checkNow(loop, seen);
  assert.equal(first.sha, sha);
  assert.equal(first.ref, 'refs/heads/main');
  assert.notEqual(first.id, deriveRunId('infra', 'default', sha), 'a drift run never takes the id of a PR run of the same head');
  const asked = await waitForState(loop.runner, first.id, ['awaiting_approval']);
  assert.equal(asked.plan?.summary.drift, undefined, 'nothing drifted: the changes are all the code\'s');
  assert.equal((await loop.cli('approve', first.id, '--yes')).code, 0);
  await waitForState(loop.runner, first.id, ['applied']);

  // 2. In sync: recorded, no request, and the last-in-sync time moves.
  const before = Date.now();
  const quiet = await checkNow(loop, seen);
  await waitForState(loop.runner, quiet.id, ['no_changes']);
  assert.equal(await requests(loop, quiet.id), 0, 'no notification when nothing changed');
  const status = await waitFor('drift status', async () => {
    const s = await loop.cli('drift', '--json');
    const row = (JSON.parse(s.out) as Array<{ status: { lastInSync?: string; lastRun?: string } }>)[0];
    return row?.status.lastRun === quiet.id ? row : undefined;
  });
  assert.ok(Date.parse(status.status.lastInSync!) >= before - 1000, 'last in sync is the check just done');
  const records = await readAuditRecords(loop.runner.cp.paths.auditDir, { run: quiet.id });
  assert.ok(records.length > 0 && records.every((r) => (r.subject as { kind?: string } | undefined)?.kind === 'drift'), 'every record of a drift run says so');
  const listed = await loop.cli('runs', '--kind', 'drift');
  assert.match(listed.out, new RegExp(`${quiet.id}\\s+no_changes.*drift`));
  assert.doesNotMatch((await loop.cli('runs', '--kind', 'pr')).out, new RegExp(quiet.id));

  if (!isDouble) return; // terraform_data never reads back: real terraform reports no drift for it (see test/doubles/README.md)

  // 3. Someone changes `a` and deletes `b` by hand.
  const stateFile = loop.runner.cp.paths.stateFile('infra', 'default');
  await writeFile(`${stateFile}.remote.json`, JSON.stringify({ 'terraform_data.a': { input: CANARY }, 'terraform_data.b': null }));
  const drifted = await checkNow(loop, seen);
  const pending = await waitForState(loop.runner, drifted.id, ['awaiting_approval']);
  assert.deepEqual(pending.plan?.summary.drift, { changes: [{ address: 'terraform_data.a', action: 'update' }, { address: 'terraform_data.b', action: 'delete' }], listed: 2, total: 2 });
  assert.deepEqual(pending.plan?.summary.changes.map((c) => [c.address, c.action]), [['terraform_data.b', 'create'], ['terraform_data.a', 'update']]);
  assert.equal(await requests(loop, drifted.id), 1, 'drift reaches the approvers');
  const shown = await loop.cli('show', drifted.id);
  const driftAt = shown.out.indexOf('Drift: 2 objects changed outside of Airlock');
  const codeAt = shown.out.indexOf('Changes the code makes');
  assert.ok(driftAt >= 0 && codeAt > driftAt, `show puts drift first and apart:\n${shown.out}`);
  assert.match(shown.out, /~ terraform_data\.a \(changed\)/);
  assert.match(shown.out, /- terraform_data\.b \(deleted\)/);

  const view = await readPlanView(loop.runner.cp.paths.job(drifted.id).planView, drifted.id);
  const notice = renderApprovalText(view!, new Date(), 'approve');
  assert.match(notice.title, /^Drift \(2\)/);

  // 4. Re-converging is the ordinary gated apply; the next check is in sync again.
  assert.equal((await loop.cli('approve', drifted.id, '--yes')).code, 0);
  await waitForState(loop.runner, drifted.id, ['applied']);
  const after = await checkNow(loop, seen);
  await waitForState(loop.runner, after.id, ['no_changes']);

  // The engine's own plan text (logged line by line at debug level, as for every run) shows values, as
  // terraform's does; every line Airlock itself writes must not.
  const ownLines = loop.log.lines().filter((l) => l['msg'] !== 'engine output');
  assert.ok(loop.log.raw.includes(CANARY), 'control: the engine did print the drifted value');
  // `airlock show` lists non-sensitive attribute values of the code's changes by design (issue 14, item 12;
  // terraform's sensitive marks, then the scrubber): the re-converging update of `a` may show the value it
  // replaces. The drift section itself names addresses only, and a value shows only on a value line.
  assert.ok(!shown.out.slice(driftAt, codeAt).includes(CANARY), 'the drift section of show holds no value');
  for (const line of shown.out.split('\n').filter((l) => l.includes(CANARY))) assert.match(line, /->/, `a value only on a value-diff line: ${line}`);
  const texts = { notice: JSON.stringify(notice), log: JSON.stringify(ownLines), audit: JSON.stringify(await readAuditRecords(loop.runner.cp.paths.auditDir, {})), runs: JSON.stringify(await loop.runner.cp.runs.list(50)) };
  for (const [where, text] of Object.entries(texts)) assert.ok(!text.includes(CANARY), `the drifted value appears in no ${where}`);
});
