// A mirror confirmed bare is not asked again (each answer costs a git process per plan step), unless its
// HEAD disappeared or was replaced.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertMirror, ensureMirror } from '../../src/checkout/mirror.ts';
import { git } from '../git-fixtures.ts';

/** Run `fn` with no git reachable on PATH: any git process the code tries to start fails. */
async function withoutGit<T>(fn: () => Promise<T>): Promise<T> {
  const saved = process.env['PATH'];
  process.env['PATH'] = '/nonexistent-airlock-test';
  try {
    return await fn();
  } finally {
    process.env['PATH'] = saved;
  }
}

describe('mirror checks', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-mirror-confirmed-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('a mirror git confirmed as bare is trusted without starting git again', async () => {
    const dir = join(work, 'm1');
    await ensureMirror(dir, 'file:///srv/repo.git');
    await assertMirror(dir);
    await withoutGit(() => assertMirror(dir));
    await withoutGit(() => ensureMirror(dir, 'file:///srv/repo.git'));
  });

  it('a mirror whose HEAD is gone is refused, confirmed before or not', async () => {
    const dir = join(work, 'm2');
    await ensureMirror(dir, 'file:///srv/repo.git');
    await assertMirror(dir);
    await rm(join(dir, 'HEAD'));
    await assert.rejects(assertMirror(dir), /is not a bare git mirror/);
  });

  it('a mirror replaced by a repository that is not bare is asked again, and refused', async () => {
    const dir = join(work, 'm3');
    await ensureMirror(dir, 'file:///srv/repo.git');
    await assertMirror(dir);
    await rm(dir, { recursive: true });
    await git(['init', '--bare', '--quiet', dir]);
    await git(['config', 'core.bare', 'false'], { cwd: dir, env: { GIT_DIR: dir } });
    await writeFile(join(dir, 'HEAD'), 'ref: refs/heads/main\n');
    await assert.rejects(assertMirror(dir), /is not a bare git mirror/);
  });
});
