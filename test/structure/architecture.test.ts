// The layout's rules (issue 12), checked on the source itself, so a later change cannot quietly undo them.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { crossFolderCycles, folderPairs, longFunctions, readSources } from './arch.ts';

const files = readSources(path.resolve(import.meta.dirname, '../../src'));

test('no two folders of src/ import each other', () => {
  assert.deepEqual(folderPairs(files), []);
});

test('no import cycle crosses a folder', () => {
  assert.deepEqual(crossFolderCycles(files), []);
});

test('nothing outside src/run/ moves a run: every state change goes through the transitions', () => {
  const outside = files.filter((f) => f.folder !== 'run' && /\.(moveIf|moveWhere)\(/.test(f.text)).map((f) => f.file);
  assert.deepEqual(outside, []);
});

test('no source file is over 15 KB', () => {
  assert.deepEqual(files.filter((f) => f.bytes > 15 * 1024).map((f) => `${f.file} ${f.bytes} bytes`), []);
});

test('the checker finds what it looks for (negative controls)', () => {
  const fake = (file: string, imports: string[], text = '') => ({ file, folder: file.split('/')[0]!, bytes: text.length, imports, text });
  assert.deepEqual(folderPairs([fake('a/x.ts', ['b/y.ts']), fake('b/y.ts', ['a/z.ts']), fake('a/z.ts', [])]), ['a<->b']);
  assert.equal(crossFolderCycles([fake('a/x.ts', ['b/y.ts']), fake('b/y.ts', ['a/x.ts'])]).length, 1);
  const long = `function big() {\n${'  x();\n'.repeat(90)}}\n`;
  assert.equal(longFunctions([fake('a/x.ts', [], long)], 80).length, 1);
});

test('every airlock:* code written in src/ is in the one registry (error-codes.ts)', async () => {
  const { ERROR_CODES } = await import('../../src/error-codes.ts');
  const used = new Set(files.flatMap((f) => [...f.text.matchAll(/'(airlock:[a-z0-9]+(?:-[a-z0-9]+)*)'/g)].map((m) => m[1]!)));
  const missing = [...used].filter((c) => !(c in ERROR_CODES));
  assert.deepEqual(missing, []);
  assert.ok(used.size > 80, `found ${used.size} codes: the scan works`);
});
