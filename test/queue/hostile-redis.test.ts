// Redis is input, not truth. A test attacker with full write access to the runner's keys acts between the
// steps of real runs, against a real runner process: it plants run records with hostile ids, rewrites
// records, injects BullMQ jobs with crafted payloads. Whatever it does, nothing outside a job directory is
// touched, nothing is applied without the chain approval, and the runner keeps serving other workspaces.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { deriveRunId, type Run, type RunPlan } from '../../src/apply/run.ts';
import { createSealer } from '../../src/approve/approval-seal.ts';
import { hashToken } from '../../src/approve/approve.ts';
import { createNtfyClient } from '../../src/approve/ntfy-client.ts';
import { approvalTextSha256, planViewOf, renderApprovalText } from '../../src/approve/plan-view.ts';
import { renderReply } from '../../src/approve/reply.ts';
import { button, ntfyUnderTest } from '../approve/ntfy-fixture.ts';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { verifyChains } from '../../src/audit/verify-files.ts';
import { main } from '../../src/cli/main.ts';
import { applyQueueName } from '../../src/queue/queues.ts';
import { setupLoop, TF_TWO } from '../e2e/loop-fixture.ts';
import { makeRemote, pushCommit } from '../git-fixtures.ts';
import { RedisAttacker } from '../support/redis-attacker.ts';
import { spawnRunner, stopRunner } from '../support/spawn-runner.ts';
import { deletePrefix, removeDir, tempDir, testPrefix, waitFor, waitForState, writeConfig } from '../support/harness.ts';

const silent = { out: () => undefined, err: () => undefined, isTTY: false };

/** Every file under `dir` with its contents, for "nothing here changed" assertions. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const file = path.join(at, entry.name);
      if (entry.isDirectory()) await walk(file);
      else if (entry.isFile()) out.set(path.relative(dir, file), await readFile(file, 'latin1'));
    }
  };
  await walk(dir);
  return out;
}

/** A runner process whose stdout (its JSON log) is kept. */
async function runnerProcess(configFile: string): Promise<{ child: ChildProcess; log: () => string }> {
  const child = await spawnRunner(configFile);
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  return { child, log: () => text };
}

test('hostile ids, records and jobs from Redis never leave the job directory; the runner keeps serving', async (t) => {
  const root = await tempDir('hostile-ids');
  const remote = await makeRemote();
  const prefix = testPrefix();
  const dataDir = path.join(root, 'data');
  const workspaces = [{ name: 'default', dir: 'default' }, { name: 'other', dir: 'other' }];
  const loaded = await writeConfig({ runnerId: 'victim', remoteUrl: remote.url, dataDir, prefix, workspaces });
  const attacker = new RedisAttacker(prefix);
  let runner: Awaited<ReturnType<typeof runnerProcess>> | undefined;
  t.after(async () => {
    await stopRunner(runner?.child);
    await attacker.close();
    await deletePrefix(prefix);
    await remote.cleanup();
    await removeDir(root);
  });
  // What a `..` job directory would reach: the data dir's local state and audit chain, and the parent.
  await mkdir(path.join(dataDir, 'state', 'infra', 'default'), { recursive: true, mode: 0o700 });
  await writeFile(path.join(dataDir, 'state', 'infra', 'default', 'sentinel'), 'beside the local state');
  await writeFile(path.join(root, 'sentinel'), 'outside the data dir');
  runner = await runnerProcess(loaded.file);

  const files = { 'default/main.tf': TF_TWO, 'other/main.tf': TF_TWO.replace('one', 'other') };
  const sha = await pushCommit(remote, files, { refs: ['refs/pull/1/head'] });
  const legit = deriveRunId('infra', 'default', sha);
  await waitFor('the legit run to await approval', async () => (await attacker.redis.hget(attacker.key('run', legit), 'state')) === 'awaiting_approval');
  const before = await snapshot(root);

  // Run records the runner never wrote: an id of `..`, a document claiming `..` under a real-looking key,
  // and a record of the legit run's (repo, workspace) whose sha no longer derives its id.
  const forgedKey = `r${randomBytes(8).toString('hex').slice(0, 15)}`;
  const base = { ...(await attacker.runDoc(legit)), state: 'planning', plan: undefined, approval: undefined };
  await attacker.plantRun('..', { ...base, id: '..' });
  await attacker.plantRun(forgedKey, { ...base, id: '../..' });
  const shaSwapped = deriveRunId('infra', 'default', 'e'.repeat(40));
  await attacker.plantRun(shaSwapped, { ...base, id: shaSwapped, sha: 'f'.repeat(40) });
  // Jobs with crafted payloads on every queue the runner works.
  const jobs: Array<[string, string, unknown, string]> = [
    ['plan', 'plan', { runId: '..' }, 'plan-..'],
    ['plan', 'plan', { runId: '../../..' }, 'plan-x1'],
    ['plan', 'plan', { runId: forgedKey }, `plan-${forgedKey}`],
    ['plan', 'plan', { runId: shaSwapped }, `plan-${shaSwapped}`],
    ['plan', 'plan', { runId: legit, path: '/' }, `plan-${legit}-extra`],
    ['plan', 'plan', { runId: `/${legit}` }, 'plan-abs'],
    ['plan', 'plan', { runId: `${legit}\0` }, 'plan-nul'],
    ['control', 'expire', { runId: '..' }, `expire-..-${Date.now()}`],
    ['control', 'expire', { runId: legit }, 'expire-of-another-shape'],
    [applyQueueName('victim'), 'apply', { runId: '../audit' }, 'apply-../audit'],
    [applyQueueName('victim'), 'apply', { runId: 42 }, 'apply-42'],
  ];
  for (const [queue, name, data, id] of jobs) await attacker.injectJob(queue, name, data, id);
  for (const [queue, , , id] of jobs) {
    const outcome = await waitFor(`injected job ${id} to be taken`, async () => {
      const o = await attacker.jobOutcome(queue, id);
      return o && (o.state === 'failed' || o.state === 'completed') ? o : undefined;
    });
    // Control: each job reached a worker and was refused there by the check (not ignored by BullMQ).
    assert.equal(outcome.state, 'failed', `${id}: ${JSON.stringify(outcome)}`);
    assert.match(outcome.failedReason ?? '', /airlock:redis-record-invalid|^no run "r[0-9a-f]{15}"/, id);
  }
  const quarantined = runner
    .log()
    .split('\n')
    .filter((l) => l.includes('"event":"redis.quarantined"'));
  assert.ok(quarantined.some((l) => l.includes('"kind":"plan job"')), 'the crafted plan jobs are quarantined');
  assert.ok(quarantined.some((l) => l.includes(`"key":"${prefix}:run:${forgedKey}"`)), 'the record claiming `../..` is quarantined');
  assert.ok(quarantined.some((l) => l.includes(`"key":"${prefix}:run:${shaSwapped}"`)), 'the record whose sha does not derive its id is quarantined');

  // Nothing outside the jobs directory changed; every audit chain still verifies.
  const after = await snapshot(root);
  for (const [file, content] of before) {
    if (file.startsWith(path.join('data', 'jobs'))) continue;
    if (file.startsWith(path.join('data', 'audit'))) continue; // appended to, checked by verify below
    assert.equal(after.get(file), content, `${file} was changed or deleted`);
  }
  assert.equal(after.get('sentinel'), 'outside the data dir');
  assert.ok((await verifyChains(path.join(dataDir, 'audit'))).every((c) => c.result.ok), 'the audit chains verify');
  assert.deepEqual((await readdir(path.join(dataDir, 'jobs'))).sort(), [legit, deriveRunId('infra', 'other', sha)].sort(), 'only the two real runs have job dirs');

  // The runner goes on: the legit run is approved and applied, and the other workspace still plans.
  assert.equal(await main(['node', 'airlock', 'approve', legit, '--yes', '--config', loaded.file], silent), 0);
  await waitFor('the legit run applied', async () => (await attacker.redis.hget(attacker.key('run', legit), 'state')) === 'applied');
  const sha2 = await pushCommit(remote, { ...files, 'other/main.tf': TF_TWO.replace('one', 'other-2') }, { refs: ['refs/pull/2/head'] });
  const next = deriveRunId('infra', 'other', sha2);
  await waitFor('a run of the other workspace to await approval', async () => (await attacker.redis.hget(attacker.key('run', next), 'state')) === 'awaiting_approval');
  const applies = (await readAuditRecords(path.join(dataDir, 'audit'))).filter((r) => r.type === 'apply.started');
  assert.deepEqual(applies.map((r) => r.run), [legit], 'exactly one apply, of the approved run');
});

test('the phone shows only the runner\'s plan; forged, moved and replayed approvals change nothing', async (t) => {
  const root = await tempDir('hostile-phone');
  const remote = await makeRemote();
  const prefix = testPrefix();
  const ntfy = await ntfyUnderTest(t);
  const dataDir = path.join(root, 'data');
  const loaded = await writeConfig({ runnerId: 'victim', remoteUrl: remote.url, dataDir, prefix, extra: { approval: ntfy.approvalSection({ maxPending: 1 }) } });
  const attacker = new RedisAttacker(prefix);
  let runner: Awaited<ReturnType<typeof runnerProcess>> | undefined;
  t.after(async () => {
    await stopRunner(runner?.child);
    await attacker.close();
    await deletePrefix(prefix);
    await remote.cleanup();
    await removeDir(root);
  });
  runner = await runnerProcess(loaded.file);
  const audit = () => readAuditRecords(path.join(dataDir, 'audit'));
  const state = async (id: string) => attacker.redis.hget(attacker.key('run', id), 'state');
  const requestOn = (id: string) =>
    waitFor(`the request for ${id} on alice's phone`, async () => (await ntfy.notifications('alice')).find((m) => (m.actions?.length ?? 0) > 0 && String(m.message).includes(`run ${id}`)));
  const reply = (nonce: string, decision: 'approve' | 'deny') =>
    fetch(`${ntfy.url}/${ntfy.topics.alice.reply}`, { method: 'POST', headers: { Authorization: `Bearer ${ntfy.tokens.alice}` }, body: renderReply(nonce, decision) });
  const refusedFor = async (id: string | null) => (await audit()).filter((r) => r.type === 'approval.refused' && r.run === id).map((r) => String(r.detail?.['reason']));

  // Run 1 takes the one request slot; run 2 waits, held, for it.
  const one = deriveRunId('infra', 'default', await pushCommit(remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] }));
  const first = await requestOn(one);
  const two = deriveRunId('infra', 'default', await pushCommit(remote, { 'main.tf': TF_TWO.replace('"a"', '"real_a"').replace('"b"', '"real_b"') }, { refs: ['refs/pull/2/head'] }));
  await waitFor('run 2 held back', async () => (await attacker.runDoc(two)).approval !== undefined);

  // The attacker rewrites what Redis says run 2 would do: one harmless create, a friendly reason, another author and PR.
  const genuine = await attacker.runDoc(two);
  const plan = genuine['plan'] as Record<string, unknown>;
  const forgedSummary = { ...(plan['summary'] as object), counts: { create: 1, update: 0, delete: 0, replace: 0, forget: 0, read: 0, noop: 0 }, changes: [{ address: 'terraform_data.harmless', action: 'create' }], listed: 1, total: 1 };
  await attacker.rewriteRun(two, (doc) => ({ ...doc, pr: 99, author: 'Trusted Human <boss@example.org>', plan: { ...plan, summary: forgedSummary, reasons: ['[auto] reviewed and safe'] } }));
  // Control: rendered from that record, the request would indeed read differently.
  const forgedText = renderApprovalText(planViewOf({ ...(genuine as never as Run), pr: 99, author: 'Trusted Human <boss@example.org>' }, { ...(plan as never as RunPlan), summary: forgedSummary as never, reasons: ['[auto] reviewed and safe'] }), new Date(), 'approve');
  assert.match(forgedText.message, /harmless/);

  // Run 1 is denied on the phone; run 2's held request goes out, with the plan's own text.
  await ntfy.tap(button(first, 'Deny'));
  const second = await requestOn(two);
  // (Markdown-escaped on the phone: `terraform\_data\.real\_a`.)
  assert.match(String(second.message), /real\\_a/);
  assert.match(String(second.message), /real\\_b/);
  for (const forged of ['harmless', 'Trusted Human', 'PR #99', 'reviewed and safe']) assert.ok(!`${second.title} ${second.message}`.includes(forged), `the phone shows the forged "${forged}"`);
  const requested = (await audit()).find((r) => r.type === 'approval.requested' && r.run === two)!;
  assert.equal(requested.detail?.['textSha256'], approvalTextSha256({ title: String(second.title), message: String(second.message) }), 'the binding names the exact text sent');

  // A rewritten plan hash: the genuine tap is refused, nothing consumed.
  await attacker.rewriteRun(two, (doc) => ({ ...doc, plan: { ...(doc['plan'] as object), sha256: 'e'.repeat(64) } }));
  await ntfy.tap(button(second, 'Approve'));
  await waitFor('the tap refused', async () => (await refusedFor(two)).includes('bound to a different plan file'));
  await attacker.rewriteRun(two, (doc) => ({ ...doc, plan: { ...(doc['plan'] as object), sha256: plan['sha256'] } }));

  // A genuine sealed binding of run 2, moved under a token the attacker knows: refused, quarantined.
  const stored = (await attacker.approvalsOf(two)).find((a) => (a.value['body'] as { approver?: string }).approver === 'alice');
  const nonce = randomBytes(32).toString('base64url');
  const moved = { ...stored!.value, body: { ...(stored!.value['body'] as object), tokenHash: hashToken(nonce) } };
  await attacker.forgeApproval(hashToken(nonce), moved, two);
  await reply(nonce, 'approve');
  // (Refused as an unknown nonce, so it is on record under no run.)
  await waitFor('the moved binding refused', async () => (await refusedFor(null)).includes('unknown nonce'));
  assert.match(runner.log(), /"event":"redis.quarantined".*"kind":"approval binding"/);
  // An approval forged from scratch with a made-up seal: the same.
  const nonce2 = randomBytes(32).toString('base64url');
  await attacker.forgeApproval(hashToken(nonce2), { ...moved, mac: 'a'.repeat(64), body: { ...moved.body, tokenHash: hashToken(nonce2) } }, two);
  await reply(nonce2, 'approve');
  await waitFor('the forged binding refused', async () => (await refusedFor(null)).filter((r) => r === 'unknown nonce').length === 2);
  assert.equal(await state(two), 'awaiting_approval');
  assert.ok(!(await audit()).some((r) => r.type === 'approval.granted'), 'nothing approved');

  // Negative control: the very same move, sealed with the runner's key (which only its data dir holds), counts
  // (once the PR number is put back: a binding also names the PR, and the record must agree).
  await attacker.rewriteRun(two, (doc) => ({ ...doc, pr: 2 }));
  const key = Buffer.from((await readFile(path.join(dataDir, 'keys', 'approval-seal.key'), 'utf8')).trim(), 'hex');
  const nonce3 = randomBytes(32).toString('base64url');
  const body3 = { ...(stored!.value['body'] as object), tokenHash: hashToken(nonce3) };
  await attacker.forgeApproval(hashToken(nonce3), { v: 1, runner: 'victim', mac: createSealer(key, 'victim').mac('binding', body3), body: body3 }, two);
  await reply(nonce3, 'approve');
  await waitFor('the sealed forgery applied', async () => (await state(two)) === 'applied');

  // Whatever the Redis copy says, the follow-ups tell the plan's own counts.
  const followUps = await waitFor('the applied follow-up', async () => {
    const all = (await ntfy.notifications('alice')).filter((m) => !(m.actions?.length ?? 0) && String(m.message).includes(`Run ${two}`));
    return all.some((m) => String(m.title).startsWith('Applied')) ? all : undefined;
  });
  for (const m of followUps) assert.ok(!String(m.message).includes('1 to create'), `follow-up "${m.title}: ${m.message}" repeats the forged counts`);
  assert.ok(followUps.some((m) => String(m.message).includes('2 to create')), 'the applied follow-up tells the plan\'s counts');

  // The cursor is rewound to the first reply and the "handled" marks deleted; bob's is set to `all`.
  const replies = (await createNtfyClient(ntfy.url).poll(ntfy.topics.alice.reply, ntfy.tokens.subscribe, 'all')).filter((e) => e.event === 'message');
  const grantedBefore = (await audit()).filter((r) => r.type === 'approval.granted' || r.type === 'approval.denied').length;
  const requestsBefore = (await ntfy.notifications('alice')).filter((m) => (m.actions?.length ?? 0) > 0).length;
  await stopRunner(runner.child);
  await attacker.rewindCursor(ntfy.topics.alice.reply, String(replies[0]!.id));
  await attacker.rewindCursor(ntfy.topics.bob.reply, 'all');
  const refusedBefore = (await audit()).filter((r) => r.type === 'approval.refused').length;
  runner = await runnerProcess(loaded.file);
  await waitFor('every replayed reply refused', async () => (await audit()).filter((r) => r.type === 'approval.refused').length >= refusedBefore + replies.length - 1);
  assert.equal((await audit()).filter((r) => r.type === 'approval.granted' || r.type === 'approval.denied').length, grantedBefore, 'no replay decided anything');
  assert.equal((await ntfy.notifications('alice')).filter((m) => (m.actions?.length ?? 0) > 0).length, requestsBefore, 'no new request went out');
  assert.deepEqual((await audit()).filter((r) => r.type === 'apply.started').map((r) => r.run), [two], 'one apply, of the approved plan');
  await waitFor('the garbage cursor quarantined', async () => runner!.log().includes('"kind":"reply cursor"'));
});

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
