import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { appendFile, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_CHECKOUT_LIMITS, type CheckoutLimits } from '../../src/checkout/checkout.ts';
import { CheckoutRefusedError } from '../../src/checkout/errors.ts';
import { exportCommit } from '../../src/checkout/export-tree.ts';
import { ensureMirror, fetchCommit } from '../../src/checkout/mirror.ts';
import { hasCode } from '../../src/errors.ts';
import { git, makeRemote, pushCommit, pushRawTree, type FixtureFile, type RawEntry, type Remote } from '../git-fixtures.ts';

let remote: Remote;
let work: string;
let mirror: string;
let counter = 0;

before(async () => {
  remote = await makeRemote();
  work = await mkdtemp(join(tmpdir(), 'airlock-export-'));
  mirror = join(work, 'mirror');
  await ensureMirror(mirror, remote.url);
});
after(async () => {
  await remote.cleanup();
  await rm(work, { recursive: true, force: true });
});

function freshDest(): string {
  counter += 1;
  return join(work, `job-${counter}`, 'src');
}

async function fetched(files: Record<string, FixtureFile>): Promise<string> {
  const sha = await pushCommit(remote, files, { refs: [`refs/pull/${++counter}/head`] });
  await fetchCommit(mirror, remote.url, sha);
  return sha;
}

async function fetchedRaw(entries: RawEntry[]): Promise<string> {
  const sha = await pushRawTree(remote, entries, { refs: [`refs/pull/${++counter}/head`] });
  await fetchCommit(mirror, remote.url, sha);
  return sha;
}

/** Every path under `dir` with its type, permission bits and (for files) content. */
async function snapshot(dir: string): Promise<Map<string, { kind: string; mode: number; content?: Buffer }>> {
  const result = new Map<string, { kind: string; mode: number; content?: Buffer }>();
  for (const rel of (await readdir(dir, { recursive: true })).sort()) {
    const full = join(dir, rel);
    const st = await lstat(full);
    const kind = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
    result.set(rel, { kind, mode: st.mode & 0o777, ...(st.isFile() ? { content: await readFile(full) } : {}) });
  }
  return result;
}

async function assertRefused(sha: string, limits: CheckoutLimits, rule: string, path: string | undefined): Promise<void> {
  const dest = freshDest();
  await assert.rejects(exportCommit(mirror, sha, dest, limits), (err: Error) => {
    assert.ok(hasCode(err, 'airlock:checkout-refused'), String(err));
    assert.ok(err instanceof CheckoutRefusedError);
    assert.equal(err.rule, rule);
    assert.equal(err.path, path);
    assert.ok(err.message.includes(`(${rule})`), err.message);
    if (path !== undefined) assert.ok(err.message.includes(JSON.stringify(path)), err.message);
    return true;
  });
  assert.equal(existsSync(dest), false, 'the export directory was created for a refused tree');
}

describe('exportCommit writes the exact tree', () => {
  const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0a, 0x0d, 0x00]);
  const files: Record<string, FixtureFile> = {
    'main.tf': 'resource "null_resource" "x" {}\n',
    'modules/vpc/variables.tf': 'variable "cidr" {}\n',
    'modules/vpc/deep/er/x.tf': '# deep\n',
    'scripts/run.sh': { mode: '100755', content: '#!/bin/sh\necho hi\n' },
    'spaces in name.tf': 'a b c',
    'new\nline\tand tab.txt': 'odd name',
    'empty.txt': '',
    'bin.dat': binary,
    'dup-a.txt': 'same content',
    'dup-b.txt': 'same content',
  };

  it('reproduces files, directories, content and modes; returns the tree id', async () => {
    const sha = await fetched(files);
    const dest = freshDest();
    const result = await exportCommit(mirror, sha, dest, DEFAULT_CHECKOUT_LIMITS);

    const treeId = (await git(['rev-parse', `${sha}^{tree}`], { cwd: remote.dir, env: { GIT_DIR: remote.dir } })).trim();
    assert.equal(result.treeId, treeId);
    assert.equal(result.files, Object.keys(files).length);
    const expectedBytes = Object.values(files).reduce<number>(
      (n, f) => n + Buffer.byteLength(typeof f === 'string' || Buffer.isBuffer(f) ? f : 'content' in f ? f.content : ''),
      0,
    );
    assert.equal(result.bytes, expectedBytes);

    assert.equal((await lstat(dest)).mode & 0o777, 0o700);
    const snap = await snapshot(dest);
    assert.deepEqual(
      [...snap.keys()].sort(),
      [...Object.keys(files), 'modules', 'modules/vpc', 'modules/vpc/deep', 'modules/vpc/deep/er', 'scripts'].sort(),
    );
    for (const [path, file] of Object.entries(files)) {
      const got = snap.get(path);
      assert.equal(got?.kind, 'file', path);
      const exec = typeof file === 'object' && !Buffer.isBuffer(file) && 'mode' in file;
      assert.equal(got?.mode, exec ? 0o700 : 0o600, `mode of ${path}`);
      const content = typeof file === 'string' || Buffer.isBuffer(file) ? file : 'content' in file ? file.content : '';
      assert.deepEqual(got?.content, Buffer.from(content), `content of ${path}`);
    }
    for (const d of ['modules', 'modules/vpc', 'modules/vpc/deep', 'modules/vpc/deep/er', 'scripts']) {
      assert.equal(snap.get(d)?.kind, 'dir');
      assert.equal(snap.get(d)?.mode, 0o700, `mode of ${d}`);
    }
  });

  it('keeps 0600/0700 under a permissive umask', async () => {
    const sha = await fetched({ 'a.tf': 'a', 'd/b.sh': { mode: '100755', content: 'b' } });
    const dest = freshDest();
    const old = process.umask(0);
    try {
      await exportCommit(mirror, sha, dest, DEFAULT_CHECKOUT_LIMITS);
    } finally {
      process.umask(old);
    }
    const snap = await snapshot(dest);
    assert.equal(snap.get('a.tf')?.mode, 0o600);
    assert.equal(snap.get('d')?.mode, 0o700);
    assert.equal(snap.get('d/b.sh')?.mode, 0o700);
  });

  it('exports into an existing empty directory, and refuses a non-empty one', async () => {
    const sha = await fetched({ 'a.tf': 'a' });
    const dest = freshDest();
    await mkdir(dest, { recursive: true, mode: 0o755 });
    await exportCommit(mirror, sha, dest, DEFAULT_CHECKOUT_LIMITS);
    assert.equal((await lstat(dest)).mode & 0o777, 0o700);
    await assert.rejects(exportCommit(mirror, sha, dest, DEFAULT_CHECKOUT_LIMITS), (err) => hasCode(err, 'airlock:checkout-failed'));
  });

  it('exports an empty tree', async () => {
    const sha = await fetched({});
    const dest = freshDest();
    const { identity, ...result } = await exportCommit(mirror, sha, dest, DEFAULT_CHECKOUT_LIMITS);
    assert.deepEqual(result, {
      treeId: '4b825dc642cb6eb9a060e54bf8d69288fbee4904',
      files: 0,
      bytes: 0,
    });
    assert.ok(!(identity instanceof Error) && identity.author.email.length > 0, 'the same session read the author');
    assert.deepEqual(await readdir(dest), []);
  });

  it('applies no filter, smudge or LFS from .gitattributes, even when a driver is configured', async () => {
    const marker = join(work, 'FILTER-RAN');
    const lfsPointer = 'version https://git-lfs.github.com/spec/v1\noid sha256:' + 'a'.repeat(64) + '\nsize 3\n';
    const sha = await fetched({
      '.gitattributes': '* filter=evil ident\n*.bin filter=lfs diff=lfs merge=lfs -text\n*.tf eol=crlf\n',
      'main.tf': 'line1\nline2 $Id$\n',
      'model.bin': lfsPointer,
    });
    await appendFile(
      join(mirror, 'config'),
      `[filter "evil"]\n\tsmudge = touch '${marker}'; cat\n\tprocess = touch '${marker}'\n\trequired = true\n[filter "lfs"]\n\tsmudge = touch '${marker}'; cat\n`,
    );
    const dest = freshDest();
    await exportCommit(mirror, sha, dest, DEFAULT_CHECKOUT_LIMITS);
    assert.equal(existsSync(marker), false, 'a filter driver ran');
    assert.equal(await readFile(join(dest, 'main.tf'), 'utf8'), 'line1\nline2 $Id$\n');
    assert.equal(await readFile(join(dest, 'model.bin'), 'utf8'), lfsPointer);

    // The setup is live: git's own checkout in a clone of the mirror would have run the driver.
    const clone = join(work, 'filter-probe');
    await git(['-c', `filter.evil.smudge=touch '${marker}'; cat`, 'clone', '--quiet', '--no-checkout', mirror, clone]);
    await git(['-c', `filter.evil.smudge=touch '${marker}'; cat`, 'checkout', '--quiet', sha], { cwd: clone });
    assert.equal(existsSync(marker), true, 'fixture filter did not run under plain git');
  });
});

describe('exportCommit refuses unsafe trees before writing anything', () => {
  it('symlink (rule symlink), with no directory created', async () => {
    const sha = await fetched({ 'main.tf': '', 'link.tf': { symlink: '/etc/passwd' } });
    await assertRefused(sha, DEFAULT_CHECKOUT_LIMITS, 'symlink', 'link.tf');
  });

  it('symlink into a pre-existing empty directory leaves it empty', async () => {
    const sha = await fetched({ 'a/b/link': { symlink: '../../../outside' }, 'a/ok': 'x' });
    const dest = freshDest();
    await mkdir(dest, { recursive: true });
    await assert.rejects(exportCommit(mirror, sha, dest, DEFAULT_CHECKOUT_LIMITS), (err: Error) => {
      assert.ok(err instanceof CheckoutRefusedError);
      assert.equal(err.rule, 'symlink');
      assert.equal(err.path, 'a/b/link');
      return true;
    });
    assert.deepEqual(await readdir(dest), []);
  });

  it('gitlink (rule submodule)', async () => {
    const target = await pushCommit(remote, { 'x.tf': '' }, { refs: ['refs/heads/sub-target'] });
    const sha = await fetchedRaw([{ name: 'main.tf', blob: '' }, { name: 'vendor', tree: [{ name: 'mod', gitlink: target }] }]);
    await assertRefused(sha, DEFAULT_CHECKOUT_LIMITS, 'submodule', 'vendor/mod');
  });

  it('.gitmodules (rule submodule)', async () => {
    const sha = await fetched({ '.gitmodules': '[submodule "x"]\n\tpath = x\n\turl = ../x\n', 'main.tf': '' });
    await assertRefused(sha, DEFAULT_CHECKOUT_LIMITS, 'submodule', '.gitmodules');
  });

  it('a `..` directory (rule unsafe-path)', async () => {
    const sha = await fetchedRaw([{ name: '..', tree: [{ name: 'escaped.tf', blob: 'pwn' }] }, { name: 'main.tf', blob: '' }]);
    await assertRefused(sha, DEFAULT_CHECKOUT_LIMITS, 'unsafe-path', '..');
    assert.equal(existsSync(join(work, 'escaped.tf')), false);
  });

  it('a `.git` directory (rule unsafe-path)', async () => {
    const sha = await fetchedRaw([
      { name: 'main.tf', blob: '' },
      { name: 'mod', tree: [{ name: '.git', tree: [{ name: 'config', blob: '[core]\n\tfsmonitor = touch PWNED\n' }] }] },
    ]);
    await assertRefused(sha, DEFAULT_CHECKOUT_LIMITS, 'unsafe-path', 'mod/.git');
  });

  it('a `.GIT` file (rule unsafe-path)', async () => {
    const sha = await fetchedRaw([{ name: '.GIT', blob: 'gitdir: /etc' }]);
    await assertRefused(sha, DEFAULT_CHECKOUT_LIMITS, 'unsafe-path', '.GIT');
  });

  it('duplicate names (rule duplicate-path)', async () => {
    const sha = await fetchedRaw([
      { name: 'main.tf', blob: 'one' },
      { name: 'main.tf', blob: 'two' },
    ]);
    await assertRefused(sha, DEFAULT_CHECKOUT_LIMITS, 'duplicate-path', 'main.tf');
  });

  const small: CheckoutLimits = { maxFiles: 3, maxBytes: 20, maxFileBytes: 10, maxPathLength: 16, timeoutMs: 30_000 };

  it('within every limit, exports', async () => {
    const sha = await fetched({ 'a.tf': '0123456789', 'b.tf': '0123456789', 'dir/c23456789.tf': '' });
    const result = await exportCommit(mirror, sha, freshDest(), small);
    assert.deepEqual({ files: result.files, bytes: result.bytes }, { files: 3, bytes: 20 });
  });

  it('too many files (rule max-files)', async () => {
    const sha = await fetched({ 'a.tf': '', 'b.tf': '', 'c.tf': '', 'd.tf': '' });
    await assertRefused(sha, small, 'max-files', 'd.tf');
  });

  it('a listing too large to be legal is cut off (rule max-files)', async () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 40; i++) many[`file-${i}.tf`] = '';
    const sha = await fetched(many);
    await assertRefused(sha, { ...small, maxFiles: 1, maxPathLength: 1 }, 'max-files', undefined);
  });

  it('too many bytes in total (rule max-bytes)', async () => {
    const sha = await fetched({ 'a.tf': '0123456789', 'b.tf': '0123456789', 'c.tf': '0' });
    await assertRefused(sha, small, 'max-bytes', 'c.tf');
  });

  it('one file too big (rule max-file-bytes)', async () => {
    const sha = await fetched({ 'a.tf': '', 'big.tf': '01234567890' });
    await assertRefused(sha, small, 'max-file-bytes', 'big.tf');
  });

  it('a path too long (rule max-path-length)', async () => {
    const sha = await fetched({ 'dir/longer-name.tf': '' });
    await assertRefused(sha, small, 'max-path-length', 'dir/longer-name.tf');
  });

  it('shows a hostile path with its control characters visible', async () => {
    const name = 'evil\n\u001b[31mred\u202e.tf';
    const sha = await fetched({ [name]: { symlink: '/etc/shadow' } });
    const dest = freshDest();
    await assert.rejects(exportCommit(mirror, sha, dest, DEFAULT_CHECKOUT_LIMITS), (err: Error) => {
      assert.ok(err.message.includes('"evil\\n\\u001b[31mred\u202e.tf"'), err.message);
      assert.ok(!err.message.includes('\n'), 'raw newline in message');
      assert.ok(!err.message.includes('\u001b'), 'raw escape in message');
      return true;
    });
  });
});

describe('exportCommit input checks', () => {
  it('refuses a bad sha before git runs', async () => {
    const dest = freshDest();
    await assert.rejects(exportCommit(join(work, 'no-mirror'), '--output=/tmp/x', dest, DEFAULT_CHECKOUT_LIMITS), (err) =>
      hasCode(err, 'airlock:bad-sha'),
    );
    assert.equal(existsSync(dest), false);
  });

  it('a commit that was never fetched → airlock:checkout-failed', async () => {
    const dest = freshDest();
    await assert.rejects(exportCommit(mirror, 'f'.repeat(40), dest, DEFAULT_CHECKOUT_LIMITS), (err) =>
      hasCode(err, 'airlock:checkout-failed'),
    );
    assert.equal(existsSync(dest), false);
  });

  it('refuses an export destination that is a file', async () => {
    const sha = await fetched({ 'a.tf': '' });
    const dest = freshDest();
    await mkdir(join(dest, '..'), { recursive: true });
    await writeFile(dest, 'x');
    await assert.rejects(exportCommit(mirror, sha, dest, DEFAULT_CHECKOUT_LIMITS), (err) => hasCode(err, 'airlock:checkout-failed'));
  });
});
