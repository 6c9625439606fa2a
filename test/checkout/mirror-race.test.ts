// Found while building the chaos campaign (issue 15): two plans of a brand-new repo ran `git init --bare`
// in the same mirror at once, and one failed with "mirror directory … is neither empty nor a bare git
// repository". A mirror is now made in a sibling directory and renamed into place.
import assert from 'node:assert/strict';
import { lstat, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { ensureMirror } from '../../src/checkout/checkout.ts';
import { makeRemote } from '../git-fixtures.ts';
import { removeDir, tempDir } from '../support/harness.ts';

test('plans creating the same new mirror at once all succeed, and leave one hook-free mirror', async (t) => {
  const root = await tempDir('mirror-race');
  const remote = await makeRemote();
  t.after(async () => {
    await removeDir(root);
    await remote.cleanup();
  });
  for (let round = 0; round < 10; round++) {
    const dir = path.join(root, `round-${round}`, 'mirrors', 'infra.git');
    // Started a few ms apart, so later ones find the directory while git is still writing it.
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => new Promise((r) => setTimeout(r, i * 4)).then(() => ensureMirror(dir, remote.url))));
    assert.deepEqual(results.filter((r) => r.status === 'rejected'), [], `round ${round}`);
    assert.match(await readFile(path.join(dir, 'config'), 'utf8'), /hooksPath = \/dev\/null/);
    assert.equal(await lstat(path.join(dir, 'hooks')).catch(() => null), null, 'no hooks directory');
    assert.deepEqual(await readdir(path.dirname(dir)), ['infra.git'], 'no stray init directories');
  }
});
