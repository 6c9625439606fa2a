// Redis is input, not truth: a decision counts only while the runner's plan view renders to the text that
// was sent (negative control: the untouched view), `airlock show` reads the view, and rewritten states,
// deleted keys and forged tombstones apply nothing while the runner keeps serving another workspace.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { hashToken } from '../../src/approve/approve.ts';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { applyQueueName } from '../../src/queue/queues.ts';
import { setupLoop, TF_TWO } from '../e2e/loop-fixture.ts';
import { pushCommit } from '../git-fixtures.ts';
import { RedisAttacker } from '../support/redis-attacker.ts';
import { waitFor, waitForState } from '../support/harness.ts';

test('a decision counts only while the plan renders to what was shown; rewritten states and deleted keys apply nothing', async (t) => {
  const loop = await setupLoop(t, { workspaces: [{ name: 'default', dir: 'default' }, { name: 'other', dir: 'other' }] });
  const attacker = new RedisAttacker(loop.prefix);
  t.after(() => attacker.close());
  const audit = () => readAuditRecords(loop.runner.cp.paths.auditDir);
  const push = async (pr: number, workspace = 'default') => {
    const sha = await pushCommit(loop.remote, { [`${workspace}/main.tf`]: TF_TWO.replace('one', `one-${pr}`) }, { refs: [`refs/pull/${pr}/head`] });
    await loop.runner.watcher.pollAll();
    return (await waitForState(loop.runner, loop.runId(sha, workspace), ['awaiting_approval'])).id;
  };

  // The view on the runner no longer renders to the text that was sent: refused and audited.
  const one = await push(1);
  const viewFile = loop.runner.cp.paths.job(one).planView;
  const original = await readFile(viewFile, 'utf8');
  await writeFile(viewFile, original.replace('terraform_data.a', 'terraform_data.z'));
  const refused = await loop.cli('approve', one, '--yes');
  assert.equal(refused.code, 1);
  assert.match(refused.err, /differs from what the plan renders to now/);
  assert.ok((await audit()).some((r) => r.type === 'approval.refused' && r.run === one && /differs/.test(String(r.detail?.['reason']))));
  // Control: with the view as written by the plan job the same decision counts.
  await writeFile(viewFile, original);
  // What `airlock show` (and the break-glass prompt) shows comes from the view too, not the Redis copy.
  await attacker.rewriteRun(one, (doc) => ({ ...doc, plan: { ...(doc['plan'] as object), summary: { ...((doc['plan'] as { summary: object }).summary), changes: [{ address: 'terraform_data.harmless', action: 'create' }] } } }));
  const shown = await loop.cli('show', one);
  assert.match(shown.out, /terraform_data\.a/);
  assert.doesNotMatch(shown.out, /harmless/);
  const push2 = await push(2);
  assert.equal((await loop.cli('approve', push2, '--yes')).code, 0);
  await waitForState(loop.runner, push2, ['applied']);

  // Redis says approved, with a decision nobody took: the chain has no approval, nothing is applied.
  const three = await push(3);
  await attacker.rewriteRun(three, (doc) => ({ ...doc, decision: { decision: 'approve', by: { kind: 'human', id: 'alice' }, channel: 'ntfy', breakGlass: false, at: new Date().toISOString(), planSha256: (doc['plan'] as { sha256: string }).sha256 } }), { state: 'approved' });
  await attacker.injectJob(applyQueueName('test'), 'apply', { runId: three }, `apply-${three}`);
  assert.equal((await waitForState(loop.runner, three, ['failed'])).error?.code, 'airlock:apply-unapproved');

  // Keys deleted mid-run: the pending approvals, then the run itself. Each decision is refused.
  const four = await push(4);
  await waitFor('the request of run 4 out', async () => (await audit()).some((r) => r.type === 'approval.requested' && r.run === four));
  assert.ok((await attacker.deleteKeys('approval*')) > 0);
  assert.match((await loop.cli('approve', four, '--yes')).err, /unknown or already used nonce/);
  await attacker.deleteKeys(`run:${four}`);
  assert.match((await loop.cli('approve', four, '--yes')).err, /no run|no such run/);

  // A forged tombstone blames another run: quarantined, so the refusal is on record under no run.
  const nonce = randomBytes(32).toString('base64url');
  await attacker.forgeTombstone(hashToken(nonce), { v: 1, runner: 'test', mac: 'b'.repeat(64), body: { runId: push2, reason: 'already used' } });
  await assert.rejects(loop.runner.cp.approvals.decide({ decision: 'approve', token: nonce, by: { kind: 'human', id: 'alice' }, channel: 'ntfy' }), /unknown nonce/);

  // The runner goes on serving the other workspace, and only the approved plan was ever applied.
  const other = await push(5, 'other');
  assert.equal((await loop.cli('approve', other, '--yes')).code, 0);
  await waitForState(loop.runner, other, ['applied']);
  assert.deepEqual((await audit()).filter((r) => r.type === 'apply.started').map((r) => r.run), [push2, other]);
});
