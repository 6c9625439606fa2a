// The one way a name from outside the runner becomes a path: a direct child of its parent, or an error.
// Every hostile shape is tried against a real directory tree, including symlinked parents and children.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { planViewOf, readPlanView, writePlanView } from '../../src/approve/plan-view.ts';
import { freshJobDir, pathInside, removeJobDir, resolveInside, runnerPaths } from '../../src/run/paths.ts';
import { emptyCounts } from '../../src/plan/summary.ts';
import { removeDir, tempDir } from '../support/harness.ts';

const RUN = 'r0123456789abcde';

async function tree(t: { after(fn: () => Promise<void>): void }) {
  const root = await tempDir('paths');
  t.after(() => removeDir(root));
  const dataDir = path.join(root, 'data');
  await mkdir(path.join(dataDir, 'jobs'), { recursive: true });
  await mkdir(path.join(dataDir, 'audit'));
  await writeFile(path.join(dataDir, 'audit', 'chain.jsonl'), 'keep');
  await mkdir(path.join(root, 'elsewhere'));
  await writeFile(path.join(root, 'elsewhere', 'victim'), 'keep');
  return { root, dataDir, paths: runnerPaths(dataDir) };
}

test('pathInside refuses every name that is not a direct child', () => {
  const parent = '/var/lib/airlock/jobs';
  // Control: what a plain join would have made of these names (the bug this replaces).
  assert.equal(path.join(parent, '..'), '/var/lib/airlock');
  assert.equal(path.resolve(parent, '/etc'), '/etc');
  for (const name of ['..', '.', '', '../audit', 'a/../../b', '/etc', '/', 'a/b', 'a\\b', `${RUN}\0`, '\0', 'x\0/../..']) {
    assert.throws(() => pathInside(parent, name), (err: Error & { code?: string }) => err.code === 'airlock:path-escape', JSON.stringify(name));
  }
  assert.equal(pathInside(parent, RUN), `${parent}/${RUN}`);
  assert.equal(pathInside(parent, '..x'), `${parent}/..x`, 'a name that merely starts with dots is a name');
});

test('runnerPaths.job takes run ids only', () => {
  const paths = runnerPaths('/var/lib/airlock');
  assert.equal(paths.job(RUN).dir, `/var/lib/airlock/jobs/${RUN}`);
  for (const id of ['..', '../audit', '/etc', `${RUN}/..`, 'R0123456789ABCDE', `${RUN}0`, 'r0123456789abcd']) {
    assert.throws(() => paths.job(id), (err: Error & { code?: string }) => err.code === 'airlock:bad-run-id', id);
  }
});

test('resolveInside refuses symlinked components below the root; the root itself may be a link', async (t) => {
  const { root, dataDir, paths } = await tree(t);
  // A job directory that is a link to somewhere else: never followed, never deleted through.
  await symlink(path.join(root, 'elsewhere'), path.join(dataDir, 'jobs', RUN));
  await assert.rejects(removeJobDir(paths, RUN), /is a symbolic link/);
  await assert.rejects(freshJobDir(paths, RUN), /is a symbolic link/);
  assert.equal(await readFile(path.join(root, 'elsewhere', 'victim'), 'utf8'), 'keep');
  // A jobs directory that is itself a link.
  const other = path.join(root, 'other-data');
  await mkdir(other);
  await symlink(path.join(root, 'elsewhere'), path.join(other, 'jobs'));
  await assert.rejects(resolveInside(other, 'jobs', RUN), /is a symbolic link/);
  // The data dir may live behind a link (/var/lib/airlock -> /srv/airlock).
  const linkedRoot = path.join(root, 'linked-data');
  await symlink(dataDir, linkedRoot);
  const ok = 'r00000000000000a';
  assert.equal(await resolveInside(linkedRoot, 'jobs', ok), path.join(dataDir, 'jobs', ok));
  await assert.rejects(resolveInside(dataDir, 'jobs', '..'), /not a name/);
  await assert.rejects(resolveInside(dataDir, '/etc'), /path separator/);
  await assert.rejects(resolveInside(dataDir, 'jobs\0'), /NUL/);
});

test('freshJobDir and removeJobDir work on a real job and touch nothing beside it', async (t) => {
  const { dataDir, paths } = await tree(t);
  const dir = await freshJobDir(paths, RUN);
  await writeFile(path.join(dir, 'plan.tfplan'), 'x');
  assert.deepEqual(await readdir(path.join(dataDir, 'jobs')), [RUN]);
  await removeJobDir(paths, RUN);
  assert.deepEqual(await readdir(path.join(dataDir, 'jobs')), []);
  assert.equal(await readFile(path.join(dataDir, 'audit', 'chain.jsonl'), 'utf8'), 'keep');
  await assert.rejects(removeJobDir(paths, '..'), (err: Error & { code?: string }) => err.code === 'airlock:bad-run-id');
});

test('the plan view replaces a planted link instead of following it, and is never read through one', async (t) => {
  const { root, paths } = await tree(t);
  const job = paths.job(RUN);
  await freshJobDir(paths, RUN);
  const view = planViewOf(
    { id: RUN, repo: 'infra', workspace: 'default', pr: 7, sha: 'a'.repeat(40) },
    { sha256: 'b'.repeat(64), tier: 'approve', reasons: [], summary: { formatVersion: '1.2', engineVersion: '1.11.4', counts: { ...emptyCounts(), create: 1 }, changes: [{ address: 'x.y', action: 'create' }], listed: 1, total: 1, errored: false } },
  );
  await symlink(path.join(root, 'elsewhere', 'victim'), job.planView);
  await writePlanView(job.planView, view);
  assert.equal(await readFile(path.join(root, 'elsewhere', 'victim'), 'utf8'), 'keep', 'the link target was not written');
  assert.deepEqual(await readPlanView(job.planView, RUN), view);
  await assert.rejects(readPlanView(job.planView, 'r00000000000000a'), /belongs to run/);
  // A view replaced by a link is refused, not followed.
  await removeJobDir(paths, RUN);
  await freshJobDir(paths, RUN);
  await symlink(path.join(root, 'elsewhere', 'victim'), job.planView);
  await assert.rejects(readPlanView(job.planView, RUN), /cannot be read \(ELOOP\)/);
  assert.equal(await readPlanView(paths.job('r00000000000000a').planView, 'r00000000000000a'), null, 'no view: null');
});
