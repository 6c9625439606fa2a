// A file:// remote's refs read in process must be exactly what `git ls-remote` lists, whatever state the
// repository's refs are in (loose, packed, both, symbolic, tags, a lock file mid-write), and anything this
// reader does not know must be left to git (null).
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { localRepoPath, readLocalRefs } from '../../src/watch/local-refs.ts';
import { listRemote } from '../../src/watch/ls-remote.ts';
import { deleteRef, git, makeRemote, pushCommit, setRef, type Remote } from '../git-fixtures.ts';

let remote: Remote;
before(async () => {
  remote = await makeRemote();
});
after(() => remote.cleanup());

const inRemote = (args: string[]) => git(args, { cwd: remote.dir, env: { GIT_DIR: remote.dir } });
const viaGit = async () => (await listRemote(remote.url, { viaGit: true })).heads();

describe('readLocalRefs', () => {
  it('lists what git ls-remote lists: loose, packed, symbolic, tags, HEAD', async () => {
    const a = await pushCommit(remote, { 'a.tf': 'a' }, { refs: ['refs/heads/main', 'refs/pull/1/head'] });
    await pushCommit(remote, { 'b.tf': 'b' }, { refs: ['refs/pull/2/head'] });
    await inRemote(['tag', '-a', '-m', 'v1', 'v1', a]);
    await inRemote(['symbolic-ref', 'refs/remotes/origin/HEAD', 'refs/heads/main']);
    await inRemote(['symbolic-ref', 'HEAD', 'refs/heads/main']);
    assert.deepEqual(await readLocalRefs(remote.url), await viaGit());
    // Everything packed, then one ref moved loose on top of its packed value.
    await inRemote(['pack-refs', '--all', '--prune']);
    assert.deepEqual(await readLocalRefs(remote.url), await viaGit());
    await pushCommit(remote, { 'c.tf': 'c' }, { refs: ['refs/pull/1/head'] });
    assert.deepEqual(await readLocalRefs(remote.url), await viaGit());
    await deleteRef(remote, 'refs/pull/2/head');
    const after = await readLocalRefs(remote.url);
    assert.deepEqual(after, await viaGit());
    assert.ok(!after!.some((h) => h.ref === 'refs/pull/2/head'), 'a deleted ref is gone');
    assert.ok(after!.some((h) => h.ref === 'HEAD') && after!.some((h) => h.ref === 'refs/tags/v1'));
  });

  it('skips a ref being written (a .lock file), as git does', async () => {
    const sha = await pushCommit(remote, { 'd.tf': 'd' }, { refs: ['refs/pull/3/head'] });
    await writeFile(join(remote.dir, 'refs', 'pull', '3', 'head.lock'), `${sha}\n`);
    try {
      assert.deepEqual(await readLocalRefs(remote.url), await viaGit());
    } finally {
      await rm(join(remote.dir, 'refs', 'pull', '3', 'head.lock'));
    }
  });

  it('leaves to git what it does not know: other URLs, no repository, refs hidden from fetches', async () => {
    assert.equal(localRepoPath('https://example.invalid/r.git'), null);
    assert.equal(await readLocalRefs('https://example.invalid/r.git'), null);
    const empty = await mkdtemp(join(tmpdir(), 'airlock-not-a-repo-'));
    try {
      assert.equal(await readLocalRefs(pathToFileURL(empty).href), null);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
    const other = await makeRemote();
    try {
      await pushCommit(other, { 'a.tf': 'a' }, { refs: ['refs/pull/1/head'] });
      assert.notEqual(await readLocalRefs(other.url), null, 'control: the same repository is read while its config is plain');
      await appendFile(join(other.dir, 'config'), '[uploadpack]\n\thideRefs = refs/pull\n');
      assert.equal(await readLocalRefs(other.url), null);
    } finally {
      await other.cleanup();
    }
  });

  it('a name git would never take as a ref sends the listing back to git', async () => {
    const sha = await pushCommit(remote, { 'e.tf': 'e' }, { refs: ['refs/pull/4/head'] });
    await writeFile(join(remote.dir, 'refs', 'pull', 'we ird'), `${sha}\n`);
    try {
      assert.equal(await readLocalRefs(remote.url), null);
    } finally {
      await rm(join(remote.dir, 'refs', 'pull', 'we ird'));
    }
    await setRef(remote, 'refs/pull/5/head', sha);
    assert.deepEqual(await readLocalRefs(remote.url), await viaGit());
  });
});
