// The forge adapters against the forge double (GitHub and Gitea flavors), errors included, and against a
// real Gitea/Forgejo when AIRLOCK_TEST_FORGE_URL points at one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ForgeError } from '../../src/report/errors.ts';
import { statusFor } from '../../src/report/status.ts';
import type { ForgeDouble } from '../doubles/forge-double.ts';
import { ADMIN, adapterFor, forgeDouble, READ_ONLY, realForge, REPO, SHA, SHA2, TOKEN } from './forge-fixture.ts';
import { runIn } from './run-fixture.ts';

async function rejects(p: Promise<unknown>, code: string): Promise<ForgeError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ForgeError, `a ForgeError, not ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.ok(!err.message.includes(TOKEN) && !JSON.stringify(err).includes(TOKEN), 'the token is in no error');
    return err;
  }
  assert.fail(`expected ${code}`);
}

for (const kind of ['github', 'gitea'] as const) {
  describe(`${kind} adapter on the double`, () => {
    let d: ForgeDouble;
    before(async () => {
      d = await forgeDouble();
    });
    after(() => d.stop());

    test('posts a status with the airlock/<workspace> context', async () => {
      await adapterFor(kind, d).setStatus(SHA, { state: 'pending', context: 'airlock/prod', description: 'Planning' });
      assert.deepEqual(d.statusesOf(REPO, SHA).map((s) => [s.state, s.context, s.description]), [['pending', 'airlock/prod', 'Planning']]);
      assert.equal(d.requests.at(-1)?.auth, TOKEN);
    });

    test('comments: create, list across pages, update in place', async () => {
      const forge = adapterFor(kind, d);
      const ids: number[] = [];
      for (let i = 0; i < 55; i++) ids.push(await forge.createComment(7, `comment ${i}`));
      const listed = await forge.listComments(7);
      assert.equal(listed.length, 55, 'every page was read');
      await forge.updateComment(ids[54]!, 'edited');
      assert.equal(d.comments.find((c) => c.id === ids[54])?.body, 'edited');
      assert.equal(d.comments.filter((c) => c.pr === 7).length, 55, 'edited, not added');
    });

    test('finds the open PRs of a commit and of a branch', async () => {
      const forge = adapterFor(kind, d);
      assert.deepEqual((await forge.pullsForCommit(SHA)).sort(), [7, 8]);
      assert.deepEqual(await forge.pullsForCommit(SHA2), []);
      assert.deepEqual(await forge.pullsForBranch('agent/change'), [7]);
    });

    test('401 on a bad token, 403 without write, 404 on an unknown repo: coded, and never the token', async () => {
      await rejects(adapterFor(kind, d, 'wrong-token-123456').setStatus(SHA, { state: 'pending', context: 'airlock/x', description: 'x' }), 'airlock:forge-auth');
      await rejects(adapterFor(kind, d, READ_ONLY).setStatus(SHA, { state: 'pending', context: 'airlock/x', description: 'x' }), 'airlock:forge-forbidden');
      await rejects(adapterFor(kind, d, TOKEN, 'acme/other').setStatus(SHA, { state: 'pending', context: 'airlock/x', description: 'x' }), 'airlock:forge-not-found');
    });

    test('rate limits: primary (reset), secondary (retry-after) and 429 are retryable with the wait the forge asked', async () => {
      const forge = adapterFor(kind, d);
      const status = { state: 'pending' as const, context: 'airlock/x', description: 'x' };
      d.rateLimit({ kind: 'primary', remaining: 0, resetInS: 120 });
      const primary = await rejects(forge.setStatus(SHA, status), 'airlock:forge-rate-limited');
      assert.ok(primary.retryable && primary.retryAfterMs! > 100_000 && primary.retryAfterMs! <= 120_000, String(primary.retryAfterMs));
      d.rateLimit({ kind: 'secondary', remaining: 0, resetInS: 3600, retryAfterS: 30 });
      const secondary = await rejects(forge.setStatus(SHA, status), 'airlock:forge-rate-limited');
      assert.equal(secondary.retryAfterMs, 30_000);
      d.rateLimit({ kind: 'too-many', remaining: 0, resetInS: 3600, retryAfterS: 7 });
      const many = await rejects(forge.setStatus(SHA, status), 'airlock:forge-rate-limited');
      assert.equal(many.status, 429);
      assert.equal(many.retryAfterMs, 7_000);
      d.rateLimit(null);
    });

    test('5xx and refused connections are retryable outages', async () => {
      const forge = adapterFor(kind, d);
      d.failNext(1, 502);
      const down = await rejects(forge.listComments(7), 'airlock:forge-unavailable');
      assert.ok(down.retryable);
      d.refuseConnections(true);
      const gone = await rejects(forge.listComments(7), 'airlock:forge-unavailable');
      assert.equal(gone.status, 0);
      d.refuseConnections(false);
      assert.ok(Array.isArray(await forge.listComments(7)), 'works again once the forge is back');
    });

    test('access: push and admin from the repo, classic scopes from x-oauth-scopes', async () => {
      assert.deepEqual(await adapterFor(kind, d).access(), { login: 'airlock-bot', push: true, admin: false, scopes: null });
      const admin = await adapterFor(kind, d, ADMIN).access();
      assert.equal(admin.admin, true);
      if (kind === 'github') assert.deepEqual(admin.scopes, ['repo', 'workflow']);
    });
  });
}

describe('GitHub limits on the double', () => {
  let d: ForgeDouble;
  before(async () => {
    d = await forgeDouble();
  });
  after(() => d.stop());

  test('a 141-character description is refused with 422; statusFor cuts every description to 140 (negative control)', async () => {
    const forge = adapterFor('github', d);
    const err = await rejects(forge.setStatus(SHA, { state: 'failure', context: 'airlock/x', description: 'x'.repeat(141) }), 'airlock:forge-invalid');
    assert.equal(err.status, 422);
    assert.match(err.message, /description is too long \(maximum is 140 characters\)/);
    const long = runIn('failed', { error: { code: `airlock:${'very-long-code-'.repeat(20)}`, message: 'x' } });
    const status = statusFor(long);
    assert.ok([...status.description].length <= 140);
    await forge.setStatus(SHA, status);
    assert.equal(d.statusesOf(REPO, SHA).at(-1)?.state, 'failure');
  });

  test('a comment over 65536 characters is refused with 422', async () => {
    const err = await rejects(adapterFor('github', d).createComment(7, 'x'.repeat(65_537)), 'airlock:forge-invalid');
    assert.match(err.message, /body is too long/);
  });
});

describe('a real Gitea/Forgejo', { skip: realForge.skip }, () => {
  test('posts a status, makes and edits a comment, answers 401 for a bad token', async () => {
    if (realForge.skip) return;
    const context = `airlock/test-${Date.now()}`;
    await realForge.forge.setStatus(realForge.sha, { state: 'success', context, description: 'airlock adapter test' });
    const id = await realForge.forge.createComment(realForge.pr, `airlock adapter test ${context}`);
    await realForge.forge.updateComment(id, `airlock adapter test ${context} (edited)`);
    const found = (await realForge.forge.listComments(realForge.pr)).find((c) => c.id === id);
    assert.equal(found?.body, `airlock adapter test ${context} (edited)`);
    assert.ok((await realForge.forge.pullsForCommit(realForge.sha)).includes(realForge.pr));
    await assert.rejects(realForge.badToken.setStatus(realForge.sha, { state: 'success', context, description: 'x' }), (e: unknown) => e instanceof ForgeError && e.code === 'airlock:forge-auth');
  });
});
