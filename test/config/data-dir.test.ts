// Where a data dir may not be: kernel pseudo-filesystems, by path or through a symlink.
import assert from 'node:assert/strict';
import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { dataDirProblem, pseudoFilesystemOf, realLocation } from '../../src/config/data-dir.ts';
import { removeDir, tempDir } from '../support/harness.ts';

const ROWS: Array<[string, string | null]> = [
  ['/proc', '/proc'],
  ['/proc/self/airlock', '/proc'],
  ['/sys/fs/airlock', '/sys'],
  ['/dev/shm/airlock', '/dev'],
  ['/var/lib/airlock', null],
  ['/processes/airlock', null],
  ['/device', null],
  ['/srv/../proc/x', '/proc'],
];

for (const [p, fs] of ROWS) {
  test(`pseudoFilesystemOf(${p}) → ${fs}`, () => {
    assert.equal(pseudoFilesystemOf(p), fs);
  });
}

test('realLocation follows symlinks in the part that exists and keeps the rest', async (t) => {
  const root = await tempDir('data-dir');
  t.after(() => removeDir(root));
  await mkdir(path.join(root, 'real'));
  await symlink(path.join(root, 'real'), path.join(root, 'link'));
  assert.equal(await realLocation(path.join(root, 'link', 'a', 'b')), path.join(await realLocation(root), 'real', 'a', 'b'));
  await symlink('/sys/kernel', path.join(root, 'kernel'));
  assert.match((await dataDirProblem(path.join(root, 'kernel', 'airlock'))) ?? '', /\/sys is a kernel pseudo-filesystem.*\(it leads to \/sys\/kernel\/airlock\)/);
  assert.equal(await dataDirProblem(path.join(root, 'link', 'data')), null);
});
