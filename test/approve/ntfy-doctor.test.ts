// `airlock doctor` on the ntfy channel: reachability, token files, and each ACL grant explained.
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import pino from 'pino';
import { TokenFileError } from '../../src/approve/errors.ts';
import { checkNtfy } from '../../src/approve/ntfy/doctor.ts';
import { startRunner } from '../../src/runner/runner.ts';
import { renderChecks } from '../../src/cli/doctor.ts';
import { removeDir, tempDir, testPrefix, writeConfig } from '../support/harness.ts';
import { ntfyUnderTest, type NtfyUnderTest } from './ntfy-fixture.ts';

async function configFor(t: TestContext, ntfy: NtfyUnderTest, change: (section: Record<string, unknown>) => void = () => undefined) {
  const root = await tempDir('ntfy-doctor');
  t.after(() => removeDir(root));
  const section = ntfy.approvalSection();
  change(section);
  return writeConfig({ remoteUrl: 'file:///nonexistent', dataDir: path.join(root, 'data'), prefix: testPrefix(), extra: { approval: section } });
}

function printed(checks: Awaited<ReturnType<typeof checkNtfy>>): string {
  let out = '';
  renderChecks(checks, { out: (s) => (out += `${s}\n`), err: () => undefined, isTTY: false });
  return out;
}

test('a correct setup passes every ntfy check, and the scopes are the narrow ones', async (t) => {
  const ntfy = await ntfyUnderTest(t);
  const checks = await checkNtfy(await configFor(t, ntfy));
  const out = printed(checks);
  assert.ok(checks.every((c) => c.ok && !c.warn), out);
  for (const line of ['ntfy server', `ntfy subscribe ${ntfy.topics.alice.reply}`, `ntfy publish ${ntfy.topics.bob.notify}`, 'ntfy reply alice', 'the publisher token cannot read', 'the alice\'s reply token cannot read']) {
    assert.ok(out.includes(line), `doctor mentions ${line}:\n${out}`);
  }
  for (const token of Object.values(ntfy.tokens)) assert.ok(!out.includes(token), 'no token is printed');
  const silent = (await ntfy.notifications('alice')).find((m) => m.title === 'airlock doctor');
  assert.ok(silent, 'the publish check reached alice\'s topic');
  assert.equal(silent.priority, 1, 'silently (priority min)');
});

test('a subscriber token without read access: 403 explained with the grant that fixes it', async (t) => {
  const ntfy = await ntfyUnderTest(t);
  const checks = await checkNtfy(await configFor(t, ntfy, (s) => {
    (s['ntfy'] as Record<string, unknown>)['subscribeTokenFile'] = path.join(ntfy.tokenDir, 'bob.token');
  }));
  const failed = checks.filter((c) => !c.ok);
  assert.deepEqual(failed.map((c) => c.name), [`ntfy subscribe ${ntfy.topics.alice.reply}`, `ntfy subscribe ${ntfy.topics.bob.reply}`]);
  assert.match(failed[0]!.detail, /403, 40301/);
  assert.match(failed[0]!.fix ?? '', new RegExp(`ntfy access <the runner's subscriber user> ${ntfy.topics.alice.reply} read-only`));
});

test('an unknown token: 401 explained; a readable token file and a dead server fail with the fix', async (t) => {
  const ntfy = await ntfyUnderTest(t);
  const unknown = path.join(ntfy.tokenDir, 'unknown.token');
  await writeFile(unknown, 'tk_unknownunknownunknownunknow\n', { mode: 0o600 });
  await chmod(path.join(ntfy.tokenDir, 'bob.token'), 0o644);
  const checks = await checkNtfy(await configFor(t, ntfy, (s) => {
    (s['ntfy'] as Record<string, unknown>)['publishTokenFile'] = unknown;
  }));
  const publish = checks.find((c) => c.name === `ntfy publish ${ntfy.topics.alice.notify}`);
  assert.equal(publish?.ok, false);
  assert.match(publish?.detail ?? '', /does not know the token .* \(401, 40101\)/);
  const bob = checks.find((c) => c.name === 'ntfy reply token bob');
  assert.equal(bob?.ok, false);
  assert.match(bob?.detail ?? '', /mode 644/);
  assert.match(bob?.fix ?? '', /chmod 600/);

  const dead = await checkNtfy(await configFor(t, ntfy, (s) => {
    (s['ntfy'] as Record<string, unknown>)['url'] = 'http://127.0.0.1:9';
  }));
  const server = dead.find((c) => c.name === 'ntfy server');
  assert.equal(server?.ok, false);
  assert.match(server?.fix ?? '', /approval\.ntfy\.url/);
});

test('the runner refuses to start when a token file is readable by others', async (t) => {
  const ntfy = await ntfyUnderTest(t);
  await chmod(path.join(ntfy.tokenDir, 'subscribe.token'), 0o640);
  const loaded = await configFor(t, ntfy);
  const err = await startRunner(loaded, { log: pino({ level: 'silent' }), watch: false }).then(
    async (r) => {
      await r.stop();
      return null;
    },
    (e: unknown) => e,
  );
  assert.ok(err instanceof TokenFileError, String(err));
  assert.equal(err.code, 'airlock:token-file');
  assert.match(err.message, /subscribe\.token: has mode 640/);
  assert.match(err.hint ?? '', /chmod 600/);
  assert.ok(!err.message.includes(ntfy.tokens.subscribe));
});
