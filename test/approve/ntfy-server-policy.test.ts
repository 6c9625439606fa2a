// The runner and `airlock doctor` against what an ntfy server really allows: a server left open refuses
// to carry nonces (unless overridden, loudly); a lockout after failed logins is named; more than 30
// approvers are all heard over a handful of subscriptions; the largest request fits ntfy's size limits.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Run } from '../../src/run/run.ts';
import type { NtfyEvent } from '../../src/approve/ntfy-client.ts';
import { buildRequest } from '../../src/approve/ntfy-messages.ts';
import { planViewOf, renderApprovalText } from '../../src/approve/plan-view.ts';
import { checkNtfy } from '../../src/approve/ntfy-doctor.ts';
import { createNtfyClient } from '../../src/approve/ntfy-client.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startRunner } from '../../src/runner/runner.ts';
import { pushCommit } from '../git-fixtures.ts';
import { setupLoop, TF_TWO } from '../e2e/loop-fixture.ts';
import { CapturedLog, removeDir, tempDir, testPrefix, waitForState, waitFor, writeConfig } from '../support/harness.ts';
import { button, ntfyUnderTest, PHONE_IP, type NtfyUnderTest } from './ntfy-fixture.ts';
import { setupNtfyLoop } from './ntfy-loop-fixture.ts';

async function configFor(t: TestContext, ntfy: NtfyUnderTest, extra: Record<string, unknown> = {}) {
  const root = await tempDir('ntfy-open');
  t.after(() => removeDir(root));
  const section = ntfy.approvalSection();
  Object.assign(section['ntfy'] as Record<string, unknown>, extra);
  return writeConfig({ remoteUrl: 'file:///nonexistent', dataDir: path.join(root, 'data'), prefix: testPrefix(), extra: { approval: section } });
}

async function start(loaded: Awaited<ReturnType<typeof configFor>>, captured = new CapturedLog()) {
  return startRunner(loaded, { log: createLogger({ level: 'info', destination: captured.stream, pretty: false }), watch: false }).then(
    async (r) => {
      await r.stop();
      return null;
    },
    (e: unknown) => e as Error & { code?: string; hint?: string },
  );
}

test('a server at ntfy\'s default (read-write for everyone): the runner will not start, doctor fails, the override is loud', async (t) => {
  const ntfy = await ntfyUnderTest(t, { double: { defaultAccess: 'read-write' } });
  if (!ntfy.double) return t.skip('needs a server left at read-write; the real test server is deny-all');
  const loaded = await configFor(t, ntfy);
  const refused = await start(loaded);
  assert.equal(refused?.code, 'airlock:ntfy-anonymous-access');
  assert.match(refused?.message ?? '', new RegExp(`anyone can read ${ntfy.topics.alice.notify} .*every nonce sent to alice`));
  assert.match(refused?.message ?? '', new RegExp(`anyone can post to ${ntfy.topics.bob.reply}`));
  assert.match(refused?.hint ?? '', /auth-default-access: deny-all.*unsafeAllowAnonymousAccess/);
  assert.deepEqual(ntfy.double.messages(ntfy.topics.alice.notify), [], 'no request, no nonce, went out');

  const checks = await checkNtfy(loaded);
  const anonymous = checks.filter((c) => c.name.startsWith('ntfy anonymous'));
  assert.deepEqual(anonymous.map((c) => [c.name, c.ok]), [
    [`ntfy anonymous read ${ntfy.topics.alice.notify}`, false],
    [`ntfy anonymous write ${ntfy.topics.alice.reply}`, false],
    [`ntfy anonymous read ${ntfy.topics.bob.notify}`, false],
    [`ntfy anonymous write ${ntfy.topics.bob.reply}`, false],
  ]);
  assert.match(anonymous[0]!.fix ?? '', /deny-all/);

  const captured = new CapturedLog();
  assert.equal(await start(await configFor(t, ntfy, { unsafeAllowAnonymousAccess: true }), captured), null, 'the override starts it');
  const loud = captured.lines().find((l) => l['event'] === 'ntfy.anonymous_access');
  assert.equal(loud?.['level'], 50, 'logged as an error');
  assert.match(String(loud?.['msg']), /UNSAFE/);
});

test('a server closed to anyone without a token: the runner starts and doctor\'s anonymous checks pass (double or real server)', async (t) => {
  const ntfy = await ntfyUnderTest(t);
  const loaded = await configFor(t, ntfy);
  assert.equal(await start(loaded), null);
  const anonymous = (await checkNtfy(loaded)).filter((c) => c.name.startsWith('ntfy anonymous'));
  assert.equal(anonymous.length, 4);
  assert.ok(anonymous.every((c) => c.ok && /refused without a token/.test(c.detail)), JSON.stringify(anonymous));
});

test('doctor names a lockout after failed logins (42909) instead of a bad grant', async (t) => {
  const ntfy = await ntfyUnderTest(t);
  if (!ntfy.double) return t.skip('locking the test host out of a real server would stall the other tests');
  const stale = `tk_${'0'.repeat(29)}`;
  for (let i = 0; i < 30; i++) await fetch(`${ntfy.url}/${ntfy.topics.alice.reply}/json?poll=1`, { headers: { Authorization: `Bearer ${stale}` } });
  const checks = await checkNtfy(await configFor(t, ntfy));
  const publish = checks.find((c) => c.name === `ntfy publish ${ntfy.topics.alice.notify}`);
  assert.equal(publish?.ok, false);
  assert.match(publish?.detail ?? '', /locked out this address after too many failed logins \(429, 42909\)/);
  assert.match(publish?.fix ?? '', /A token sent from this host is wrong or revoked/);
  assert.ok(!checks.some((c) => /rate limit/i.test(c.detail)), 'not mistaken for rate limiting');
});

test('a runner host locked out after failed logins: the request is recorded undelivered, and the log says why', async (t) => {
  const s = await setupNtfyLoop(t);
  if (!s.ntfy.double) return t.skip('locking the test host out of a real server would stall the other tests');
  // A stale token elsewhere on the runner host (127.0.0.1) fails 30 logins: ntfy locks the address out.
  for (let i = 0; i < 30; i++) await fetch(`${s.ntfy.url}/${s.ntfy.topics.alice.reply}/json?poll=1`, { headers: { Authorization: `Bearer tk_${'0'.repeat(29)}` } });
  const sha = await pushCommit(s.loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await s.loop.runner.watcher.pollAll();
  const id = s.loop.runId(sha);
  const undelivered = await waitFor('the undelivered record', async () => (await s.audit(id)).find((r) => r.type === 'approval.undelivered'));
  assert.match(String(undelivered.detail?.['message']), /HTTP 429 \(42909\)/);
  // The audit record is written before the log line: wait for the line too.
  const line = await waitFor('the log line', async () => s.loop.log.lines().find((l) => l['runId'] === id && /could not be delivered/.test(String(l['msg']))));
  assert.match(JSON.stringify(line), /locked out this address after 30 failed logins/);
  assert.equal((await s.loop.runner.cp.runs.get(id)).state, 'awaiting_approval', 'break-glass still decides it');
});

test('32 approvers: one subscription hears all of them, and a tap by the last one counts (double or real server)', async (t) => {
  const ntfy = await ntfyUnderTest(t, { double: { limits: { exemptHosts: [PHONE_IP, '127.0.0.1'] } } });
  const names = Array.from({ length: 32 }, (_, i) => `a${String(i + 1).padStart(2, '0')}`);
  // Every approver's topics fall under alice's grants, so a real test server needs no further tokens.
  const approvers = names.map((name) => ({ name, notifyTopic: `${ntfy.topics.alice.notify}-${name}`, replyTopic: `${ntfy.topics.alice.reply}-${name}`, replyTokenFile: path.join(ntfy.tokenDir, 'alice.token') }));
  const section = ntfy.approvalSection();
  Object.assign(section['ntfy'] as Record<string, unknown>, { approvers, requestBudget: false });
  const s = await setupLoop(t, { extra: { approval: section } });
  ntfy.beforeClose(() => s.runner.stop());
  await s.runner.replies!.waitConnected();
  assert.equal(s.runner.replies!.groups.length, 1, 'all 32 reply topics on one stream');
  if (ntfy.double) assert.equal(ntfy.double.subscriptionsOf('127.0.0.1'), 1, 'the runner holds one of its 30 subscriptions');

  const sha = await pushCommit(s.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await s.runner.watcher.pollAll();
  const id = s.runId(sha);
  const last = approvers.at(-1)!;
  const request = await waitFor(`the request on ${last.name}'s phone`, async () => {
    const res = await fetch(`${ntfy.url}/${last.notifyTopic}/json?poll=1`, { headers: { Authorization: `Bearer ${ntfy.tokens.phone}`, ...(ntfy.double ? { 'X-Forwarded-For': PHONE_IP } : {}) } });
    const events = (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as NtfyEvent);
    return events.find((e) => (e.actions?.length ?? 0) > 0 && String(e.message).includes(`run ${id}`));
  });
  assert.equal((await ntfy.tap(button(request, 'Approve'))).status, 200);
  const applied = await waitForState(s.runner, id, ['applied', 'failed']);
  assert.equal(applied.state, 'applied');
  assert.deepEqual(applied.decision?.by, { kind: 'human', id: last.name });
});

test('the largest request the runner can build fits ntfy\'s limits: JSON under 8192 bytes, message under 4096 (double or real server)', async (t) => {
  const ntfy = await ntfyUnderTest(t);
  // Long names full of characters that are escaped for the phone and again for JSON, more than fit.
  const nasty = '_*`[]\\"<>'.repeat(20);
  const changes = Array.from({ length: 400 }, (_, i) => ({ address: `module.${nasty}.terraform_data.${nasty}[${i}]`, action: i % 2 ? ('delete' as const) : ('replace' as const) }));
  const run: Run = {
    id: 'r'.repeat(16),
    repo: nasty,
    ref: 'refs/pull/999999/head',
    pr: 999_999,
    sha: 'f'.repeat(40),
    workspace: nasty,
    author: nasty,
    state: 'awaiting_approval',
    version: 1,
    createdAt: '2030-01-01T00:00:00Z',
    updatedAt: '2030-01-01T00:00:00Z',
    plan: { sha256: 'a'.repeat(64), tier: 'confirm', reasons: Array.from({ length: 5 }, () => `[rule] ${nasty}`), engineVersion: '1.11.4', treeId: 't', summary: { formatVersion: '1.2', engineVersion: '1.11.4', counts: { create: 0, update: 0, delete: 200, replace: 200, forget: 0, read: 0, noop: 0 }, changes, listed: 400, total: 400, errored: false } },
  } as Run;
  const server = `https://${'n'.repeat(200)}.example.net`;
  const client = createNtfyClient(ntfy.url);
  for (const phase of ['approve', 'confirm'] as const) {
    const text = renderApprovalText(planViewOf(run, run.plan!), new Date(), phase);
    const message = buildRequest(text, ntfy.topics.alice.notify, { server, replyTopic: 'r'.repeat(64), replyToken: ntfy.tokens.alice }, 'N'.repeat(43), phase);
    assert.ok(Buffer.byteLength(JSON.stringify(message)) < 8192, `${phase}: ${Buffer.byteLength(JSON.stringify(message))} bytes of JSON`);
    assert.ok(Buffer.byteLength(String(message.message)) < 4096, `${phase}: ${Buffer.byteLength(String(message.message))} bytes of message`);
    const stored = await client.publish(message, ntfy.tokens.publish);
    assert.equal(stored['attachment'], undefined, 'a message, not an attachment');
    assert.equal(stored.message, String(message.message).trim());
  }
});
