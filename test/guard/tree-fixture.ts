// Small trees of files on disk for the guard's tests, removed when the test file's tests are done.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after } from 'node:test';
import { removeDir, tempDir } from '../support/harness.ts';

/** A `tree(files)` that writes each file under a fresh temporary root and returns the root. */
export function treeMaker(label: string): (files: Record<string, string>) => Promise<string> {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await removeDir(d);
  });
  return async (files) => {
    const root = await tempDir(label);
    dirs.push(root);
    for (const [rel, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
      await writeFile(path.join(root, rel), text);
    }
    return root;
  };
}
