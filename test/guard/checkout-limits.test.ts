// Checkout hardening in a running runner: a tree over any limit, or with submodules, ends its run cleanly
// (`refused`, nothing written, no engine process) while the same runner keeps planning another repo.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { HARDENED_GIT_CONFIG, runGit } from '../../src/checkout/git-command.ts';
import { deriveRunId } from '../../src/run/run.ts';
import { makeRemote, pushCommit, pushRawTree, type Remote } from '../git-fixtures.ts';
import { TF_TWO } from '../e2e/loop-fixture.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { deletePrefix, readInvocations, removeDir, startTestRunner, tempDir, testPrefix, waitForState, writeConfig } from '../support/harness.ts';
import type { Runner } from '../../src/runner/runner.ts';
import type { TestContext } from 'node:test';

const isDouble = engineForTests().isDouble;
const LIMITS = { maxFiles: 20, maxBytes: '3000B', maxFileBytes: '1000B', maxPathLength: 80 };

async function twoRepoRunner(t: TestContext, guard: object = {}): Promise<{ runner: Runner; infra: Remote; other: Remote; invocationLog: string }> {
  const root = await tempDir('limits');
  const infra = await makeRemote();
  const other = await makeRemote();
  const prefix = testPrefix();
  const invocationLog = path.join(root, 'engine-invocations.jsonl');
  const repo = (name: string, url: string) => ({ name, url, pollInterval: '1s', refs: ['refs/pull/*/head'], workspaces: [{ name: 'default', dir: '.' }] });
  const loaded = await writeConfig({
    remoteUrl: infra.url,
    dataDir: path.join(root, 'data'),
    prefix,
    engineEnv: isDouble ? { AIRLOCK_DOUBLE_LOG: invocationLog } : {},
    extra: { repos: [repo('infra', infra.url), repo('other', other.url)], checkout: LIMITS, guard, plans: { attempts: 2, backoff: '1s', concurrency: 4 } },
  });
  const { runner } = await startTestRunner(loaded);
  t.after(async () => {
    await runner.stop().catch(() => undefined);
    await deletePrefix(prefix);
    await infra.cleanup();
    await other.cleanup();
    await removeDir(root);
  });
  return { runner, infra, other, invocationLog };
}

const many = (n: number, size: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${String(i).padStart(3, '0')}.txt`, 'x'.repeat(size)]));

// [name, tree, the checkout rule it breaks]
const OVER: Array<[string, Parameters<typeof pushCommit>[1], string]> = [
  ['more files than maxFiles', { 'main.tf': TF_TWO, ...many(25, 1) }, 'max-files'],
  ['more bytes than maxBytes', { 'main.tf': TF_TWO, ...many(4, 900) }, 'max-bytes'],
  ['a file over maxFileBytes', { 'main.tf': TF_TWO, 'big.bin': 'x'.repeat(1200) }, 'max-file-bytes'],
  ['a path over maxPathLength', { 'main.tf': TF_TWO, [`${'d'.repeat(50)}/${'n'.repeat(40)}.tf`]: '' }, 'max-path-length'],
  ['a .gitmodules file', { 'main.tf': TF_TWO, '.gitmodules': '[submodule "m"]\n\tpath = m\n\turl = https://evil.example/m.git\n' }, 'submodule'],
  ['a symlink', { 'main.tf': TF_TWO, 'link.tf': { symlink: '/etc/passwd' } }, 'symlink'],
];

test('a tree over each checkout limit ends its run refused; the runner keeps serving another repo', async (t) => {
  const { runner, infra, other, invocationLog } = await twoRepoRunner(t);
  const refused: Array<{ id: string; rule: string; name: string }> = [];
  for (const [i, [name, files, rule]] of OVER.entries()) {
    const sha = await pushCommit(infra, files, { refs: [`refs/pull/${i + 1}/head`] });
    refused.push({ id: deriveRunId('infra', 'default', sha), rule, name });
  }
  const gitlink = await pushRawTree(infra, [{ name: 'main.tf', blob: TF_TWO }, { name: 'vendor', gitlink: 'b'.repeat(40) }], { refs: ['refs/pull/50/head'] });
  refused.push({ id: deriveRunId('infra', 'default', gitlink), rule: 'submodule', name: 'a gitlink' });
  const safe = await pushCommit(other, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });

  await runner.watcher.pollAll();
  for (const { id, rule, name } of refused) {
    const run = await waitForState(runner, id, ['refused', 'failed', 'awaiting_approval'], 60_000);
    assert.equal(run.state, 'refused', `${name}: ${JSON.stringify(run.error)}`);
    assert.equal(run.error?.code, 'airlock:checkout-refused', name);
    assert.match(run.error?.message ?? '', new RegExp(`^checkout refused \\(${rule}\\)`), name);
  }
  const planned = await waitForState(runner, deriveRunId('other', 'default', safe), ['awaiting_approval', 'refused', 'failed'], 60_000);
  assert.equal(planned.state, 'awaiting_approval', JSON.stringify(planned.error));
  if (isDouble) {
    const calls = (await readInvocations(invocationLog)).filter((c) => c.argv[0] !== 'version');
    const job = runner.cp.paths.job(planned.id).dir;
    assert.ok(calls.length > 0 && calls.every((c) => c.cwd.startsWith(job)), `the engine ran only for the repo within limits: ${JSON.stringify(calls.map((c) => [c.argv[0], c.cwd]))} vs ${job}`);
  }
  // The next poll still serves both repos: the refused heads are not re-planned, a new head is.
  const again = await pushCommit(other, { 'main.tf': TF_TWO.replace('two', 'three') }, { refs: ['refs/pull/2/head'] });
  await runner.watcher.pollAll();
  assert.equal((await waitForState(runner, deriveRunId('other', 'default', again), ['awaiting_approval', 'failed'], 60_000)).state, 'awaiting_approval');
  for (const { id } of refused) assert.equal((await runner.cp.runs.get(id)).state, 'refused');
});

test('guard.allowSubmodules: a tree with submodules is planned without their contents', async (t) => {
  const { runner, infra } = await twoRepoRunner(t, { allowSubmodules: true });
  const sha = await pushRawTree(
    infra,
    [{ name: 'main.tf', blob: TF_TWO }, { name: '.gitmodules', blob: '[submodule "vendor"]\n\tpath = vendor\n\turl = ../vendor.git\n' }, { name: 'vendor', gitlink: 'b'.repeat(40) }],
    { refs: ['refs/pull/1/head'] },
  );
  await runner.watcher.pollAll();
  const run = await waitForState(runner, deriveRunId('infra', 'default', sha), ['awaiting_approval', 'refused', 'failed'], 60_000);
  assert.equal(run.state, 'awaiting_approval', JSON.stringify(run.error));
});

test('every git command runs with the hardened settings', async (t) => {
  const work = await tempDir('hardened');
  t.after(() => removeDir(work));
  const expected: Record<string, string> = {
    'protocol.ext.allow': 'never',
    'core.hooksPath': '/dev/null',
    'core.fsmonitor': 'false',
    'credential.helper': '',
    'filter.lfs.smudge': '',
    'filter.lfs.process': '',
    'filter.lfs.required': 'false',
    'submodule.recurse': 'false',
  };
  for (const [key, value] of Object.entries(expected)) {
    assert.ok(HARDENED_GIT_CONFIG.includes(`${key}=${value}`), key);
    const seen = await runGit({ args: ['config', '--get-all', key], cwd: work, ceilingDir: work, timeoutMs: 10_000 });
    assert.equal(seen.stdout.toString('utf8').split('\n')[0], value, key);
  }
});
