// The one `git cat-file --batch` session of an export, and how many git processes a checkout starts.
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CatFileError, openCatFile } from '../../src/checkout/cat-file.ts';
import { DEFAULT_CHECKOUT_LIMITS } from '../../src/checkout/checkout.ts';
import { exportCommit } from '../../src/checkout/export-tree.ts';
import { ensureMirror, fetchCommit, readCommitIdentity } from '../../src/checkout/mirror.ts';
import { findOnPath } from '../../src/sandbox/host.ts';
import { git, makeRemote, pushCommit, type Remote } from '../git-fixtures.ts';

let remote: Remote;
let work: string;
let mirror: string;
let n = 0;

before(async () => {
  remote = await makeRemote();
  work = await mkdtemp(join(tmpdir(), 'airlock-catfile-'));
  mirror = join(work, 'mirror');
  await ensureMirror(mirror, remote.url);
});
after(async () => {
  await remote.cleanup();
  await rm(work, { recursive: true, force: true });
});

async function fetched(files: Record<string, string>): Promise<string> {
  const sha = await pushCommit(remote, files, { refs: [`refs/pull/${++n}/head`] });
  await fetchCommit(mirror, remote.url, sha);
  return sha;
}

const inMirror = (rev: string) => git(['rev-parse', rev], { cwd: mirror, env: { GIT_DIR: mirror } }).then((s) => s.trim());

describe('openCatFile', () => {
  it('answers in order: the commit, a blob, a missing object', async () => {
    const sha = await fetched({ 'main.tf': 'resource "terraform_data" "a" {}\n' });
    const blob = await inMirror(`${sha}:main.tf`);
    const cat = openCatFile(mirror, Date.now() + 30_000);
    try {
      const [commit, file, missing] = await cat.readMany([
        { id: sha, keep: 1 << 20 },
        { id: blob, keep: 1 << 20 },
        { id: 'f'.repeat(40), keep: 10 },
      ]);
      assert.equal(commit?.type, 'commit');
      assert.match(commit!.content.toString(), /^tree [0-9a-f]{40}\n/);
      const text = 'resource "terraform_data" "a" {}\n';
      assert.deepEqual(file, { type: 'blob', size: text.length, content: Buffer.from(text) });
      assert.equal(missing, null);
      // The same session keeps answering after a miss.
      assert.equal((await cat.read(blob, 4))?.content.toString(), 'reso');
    } finally {
      cat.close();
    }
  });

  it('keeps only what was asked for, but knows the real size', async () => {
    const sha = await fetched({ 'big.tf': 'x'.repeat(200_000) });
    const cat = openCatFile(mirror, Date.now() + 30_000);
    try {
      const blob = await cat.read(await inMirror(`${sha}:big.tf`), 10);
      assert.equal(blob?.size, 200_000);
      assert.equal(blob?.content.length, 10);
    } finally {
      cat.close();
    }
  });

  it('refuses anything but a full object id, so nothing reaches git as a revision or an option', async () => {
    const cat = openCatFile(mirror, Date.now() + 30_000);
    try {
      for (const bad of ['HEAD', '--batch-all-objects', 'a'.repeat(39), `${'a'.repeat(40)}\nHEAD`]) {
        await assert.rejects(cat.read(bad, 10), (err) => err instanceof CatFileError && !err.timedOut);
      }
    } finally {
      cat.close();
    }
  });

  it('ends at its deadline with a timed-out error', async () => {
    const cat = openCatFile(mirror, Date.now() - 1);
    await assert.rejects(
      new Promise((resolve, reject) => setTimeout(() => cat.read('f'.repeat(40), 1).then(resolve, reject), 50)),
      (err) => err instanceof CatFileError && err.timedOut,
    );
    cat.close();
  });
});

describe('a checkout\'s git processes', () => {
  /** Run `fn` with a `git` on PATH that logs each invocation's subcommand before running the real one. */
  async function countGit(fn: () => Promise<unknown>): Promise<string[]> {
    const bin = join(work, `bin-${++n}`);
    const log = join(bin, 'log');
    const real = await findOnPath('git');
    await mkdir(bin);
    await writeFile(join(bin, 'git'), `#!/bin/sh\nfor a in "$@"; do case "$a" in -c) skip=1 ;; *) if [ -n "$skip" ]; then skip=; else echo "$a" >> '${log}'; break; fi ;; esac; done\nexec '${real}' "$@"\n`);
    await chmod(join(bin, 'git'), 0o755);
    const saved = process.env['PATH'];
    process.env['PATH'] = `${bin}${delimiter}${saved ?? ''}`;
    try {
      await fn();
    } finally {
      process.env['PATH'] = saved;
    }
    return (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);
  }

  it('fetch, one cat-file session and one ls-tree: three git processes, identity included', async () => {
    const sha = await pushCommit(remote, { 'main.tf': 'a', 'mod/x.tf': 'b' }, { refs: [`refs/pull/${++n}/head`] });
    let identity: unknown;
    const started = await countGit(async () => {
      await fetchCommit(mirror, remote.url, sha, { checkType: false });
      identity = (await exportCommit(mirror, sha, join(work, `job-${n}`, 'tree'), DEFAULT_CHECKOUT_LIMITS)).identity;
    });
    assert.deepEqual(started, ['fetch', 'cat-file', 'ls-tree']);
    assert.deepEqual(identity, await readCommitIdentity(mirror, sha));
  });

  it('negative control: the counter sees the separate type check and identity read of the old path', async () => {
    const sha = await pushCommit(remote, { 'main.tf': 'c' }, { refs: [`refs/pull/${++n}/head`] });
    const started = await countGit(async () => {
      await fetchCommit(mirror, remote.url, sha);
      await readCommitIdentity(mirror, sha);
    });
    assert.deepEqual(started, ['fetch', 'cat-file', 'cat-file']);
  });
});
