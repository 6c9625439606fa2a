// End to end on real git and Redis with a real runner: the forge hears every outcome (statuses pending →
// success/failure, one living PR comment per workspace), never a secret, and a forge outage changes no run.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { scrubber } from '../../src/log/scrub.ts';
import { commentMarker } from '../../src/report/comment.ts';
import { startForgeDouble, type ForgeDouble } from '../doubles/forge-double.ts';
import { pushCommit } from '../git-fixtures.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { tempDir, removeDir, waitFor, waitForState } from '../support/harness.ts';
import { setupLoop, TF_TWO, type Loop } from './loop-fixture.ts';

const TOKEN = 'e2e-forge-token-canary-3c9f0a7e51';
const LOADED_SECRET = 'forge-e2e-secret-canary-d41e8b27';
const REPO = 'acme/infra';

async function forgeLoop(t: TestContext, kind: 'github' | 'gitea', engineEnv: Record<string, string> = {}): Promise<{ loop: Loop; d: ForgeDouble }> {
  const d = await startForgeDouble({ tokens: { [TOKEN]: { user: 'airlock-bot', repos: { [REPO]: { push: true } } } } });
  const dir = await tempDir('forge-token');
  const tokenFile = path.join(dir, 'forge.token');
  await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  t.after(async () => {
    await d.stop();
    await removeDir(dir);
  });
  const forge = { kind, apiUrl: kind === 'github' ? d.githubApi : d.giteaUrl, owner: 'acme', name: 'infra', tokenFile };
  const loop = await setupLoop(t, { repoExtra: { forge }, engineEnv }, { report: { backoffMs: 100, maxBackoffMs: 400, maxAttempts: 10_000 } });
  return { loop, d };
}

async function push(loop: Loop, d: ForgeDouble, pr: number, files: Record<string, string>): Promise<string> {
  const sha = await pushCommit(loop.remote, files, { refs: [`refs/pull/${pr}/head`] });
  d.addPull(REPO, pr, sha, `agent/pr-${pr}`);
  await loop.runner.watcher.pollAll();
  return sha;
}

const ours = (d: ForgeDouble, pr: number) => d.comments.filter((c) => c.pr === pr && c.body.startsWith(commentMarker('infra', 'default')));

async function settled(loop: Loop, d: ForgeDouble, sha: string, state: string): Promise<void> {
  await waitFor(`status ${state}`, async () => d.statusesOf(REPO, sha).at(-1)?.state === state, 30_000);
  await loop.runner.cp.transitions.idle();
  await loop.runner.reporting?.reporter.idle();
}

test('github: pending while planning and waiting, success once applied; one comment, edited in place across a restart', async (t) => {
  const { loop, d } = await forgeLoop(t, 'github');
  const sha = await push(loop, d, 1, { 'main.tf': TF_TWO });
  const id = loop.runId(sha);
  await waitForState(loop.runner, id, ['awaiting_approval']);
  await waitFor('the waiting comment', async () => ours(d, 1)[0]?.body.includes('Waiting for a human decision'));
  await loop.restart(); // a new process: the comment is found again by its marker
  assert.equal((await loop.cli('approve', id, '--yes')).code, 0);
  await waitForState(loop.runner, id, ['applied']);
  await settled(loop, d, sha, 'success');
  const states = d.statusesOf(REPO, sha).map((s) => s.state);
  assert.equal(states[0], 'pending');
  assert.deepEqual(states.slice(0, -1).filter((s) => s !== 'pending'), [], `pending until the end: ${states.join(',')}`);
  assert.ok(d.statusesOf(REPO, sha).every((s) => s.context === 'airlock/default' && [...s.description].length <= 140));
  const comments = ours(d, 1);
  assert.equal(comments.length, 1, 'one comment, updated in place');
  assert.match(comments[0]!.body, /Applied/);
  assert.match(comments[0]!.body, /terraform\\_data\\\.a/);
  assert.match(comments[0]!.body, /Approved by a human/);
  const shown = await loop.cli('show', id);
  assert.match(shown.out, /Forge: success \(applied\) reported at \S+, PR #1/);
});

test('gitea: a guard refusal is a failure status and a comment that names the rule, file and block', async (t) => {
  const { loop, d } = await forgeLoop(t, 'gitea');
  const sha = await push(loop, d, 2, { 'main.tf': 'data "external" "x" {\n  program = ["sh", "-c", "id"]\n}\n' });
  await waitForState(loop.runner, loop.runId(sha), ['refused']);
  await settled(loop, d, sha, 'failure');
  assert.match(d.statusesOf(REPO, sha).at(-1)!.description, /Refused by the guard/);
  const body = ours(d, 2)[0]?.body ?? '';
  assert.match(body, /rule `external-data`: main\\\.tf data\\\.external\\\.x/);
});

test('a denial taken in the CLI reaches the forge: failure, "Denied by a human", and the comment says so', async (t) => {
  const { loop, d } = await forgeLoop(t, 'gitea');
  const sha = await push(loop, d, 5, { 'main.tf': TF_TWO });
  const id = loop.runId(sha);
  await waitForState(loop.runner, id, ['awaiting_approval']);
  assert.equal((await loop.cli('deny', id)).code, 0);
  // The CLI waited for its report: the forge already has it when the command returns.
  assert.equal(d.statusesOf(REPO, sha).at(-1)?.state, 'failure');
  assert.match(d.statusesOf(REPO, sha).at(-1)!.description, /Denied by a human/);
  assert.match(ours(d, 5)[0]?.body ?? '', /Denied by a human at /);
});

test('the canary: a secret in engine output reaches the comment path scrubbed, and no status or comment holds it or the token', { skip: !engineForTests().isDouble && 'needs the double to print the secret' }, async (t) => {
  scrubber.add(LOADED_SECRET);
  const { loop, d } = await forgeLoop(t, 'github', { AIRLOCK_DOUBLE_STDERR: `the secret is ${LOADED_SECRET}`, AIRLOCK_DOUBLE_FAIL: 'apply' });
  const sha = await push(loop, d, 3, { 'main.tf': TF_TWO });
  const id = loop.runId(sha);
  await waitForState(loop.runner, id, ['awaiting_approval']);
  await loop.cli('approve', id, '--yes');
  await waitForState(loop.runner, id, ['failed']);
  await settled(loop, d, sha, 'failure');
  const body = ours(d, 3)[0]?.body ?? '';
  // Control: the engine's line did reach the comment (scrubbed), so the check below looks where it would be.
  assert.match(body, /the secret is \[scrubbed\]/);
  const everything = JSON.stringify({ statuses: d.statusesOf(REPO, sha), comments: d.comments, log: loop.log.raw });
  assert.ok(!everything.includes(LOADED_SECRET), 'the secret reached the forge or the log');
  assert.ok(!everything.includes(TOKEN), 'the forge token reached a status, a comment or the log');
  assert.ok(d.requests.length > 0 && d.requests.every((r) => r.auth === TOKEN), 'the token was sent, and only as the Authorization header');
});

test('a forge that is down: the run still applies, reports fail and are logged, and the report catches up when it returns', async (t) => {
  const { loop, d } = await forgeLoop(t, 'gitea');
  d.refuseConnections(true);
  const sha = await push(loop, d, 4, { 'main.tf': TF_TWO });
  const id = loop.runId(sha);
  await waitForState(loop.runner, id, ['awaiting_approval']);
  assert.equal((await loop.cli('approve', id, '--yes')).code, 0);
  const applied = await waitForState(loop.runner, id, ['applied', 'failed', 'needs_attention']);
  assert.equal(applied.state, 'applied', 'the outage changed nothing in the run');
  // Control: the forge really was down all along: nothing reached it, and the reporter said so.
  assert.deepEqual(d.statusesOf(REPO, sha), []);
  const failures = loop.log.lines().filter((l) => l['event'] === 'report.failed');
  assert.ok(failures.length > 0 && failures.every((l) => l['code'] === 'airlock:forge-unavailable'), JSON.stringify(failures[0]));
  await waitFor('show to tell of the failed report', async () => /Forge: reporting \w+ \(\w+\) failed at .*airlock:forge-unavailable/.test((await loop.cli('show', id)).out));
  d.refuseConnections(false);
  await settled(loop, d, sha, 'success');
  assert.equal(ours(d, 4).length, 1);
  assert.match(ours(d, 4)[0]!.body, /Applied/);
});
