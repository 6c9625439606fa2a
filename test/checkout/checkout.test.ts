import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_CHECKOUT_LIMITS,
  findTreeViolation,
  isObjectId,
  parseLsTree,
  type CheckoutLimits,
  type TreeEntry,
} from '../../src/checkout/checkout.ts';

const SHA = 'b'.repeat(40);
const limits: CheckoutLimits = { maxFiles: 3, maxBytes: 100, maxFileBytes: 60, maxPathLength: 20, timeoutMs: 1000 };

const file = (path: string, size = 1, mode = '100644'): TreeEntry => ({ mode, type: 'blob', sha: SHA, size, path });
const dir = (path: string): TreeEntry => ({ mode: '040000', type: 'tree', sha: SHA, size: null, path });

describe('findTreeViolation', () => {
  it('accepts an ordinary tree', () => {
    assert.equal(findTreeViolation([dir('m'), file('m/main.tf', 60), file('run.sh', 40, '100755')], limits), null);
  });

  it('accepts paths with spaces and newlines (shown quoted, not refused)', () => {
    assert.equal(findTreeViolation([file('a b'), file('new\nline')], limits), null);
  });

  const rows: Array<[string, TreeEntry[], string, string | undefined]> = [
    ['symlink', [file('ok'), file('link', 5, '120000')], 'symlink', 'link'],
    ['gitlink', [{ mode: '160000', type: 'commit', sha: SHA, size: null, path: 'vendor/x' }], 'submodule', 'vendor/x'],
    ['.gitmodules', [file('.gitmodules')], 'submodule', '.gitmodules'],
    ['nested .GITMODULES', [dir('a'), file('a/.GITMODULES')], 'submodule', 'a/.GITMODULES'],
    ['.. component', [dir('..'), file('../x')], 'unsafe-path', '..'],
    ['.. deeper', [file('a/../../x')], 'unsafe-path', 'a/../../x'],
    ['. component', [file('./x')], 'unsafe-path', './x'],
    ['.git directory', [dir('.git'), file('.git/config')], 'unsafe-path', '.git'],
    ['.git file', [file('sub/.git')], 'unsafe-path', 'sub/.git'],
    ['.GIT any case', [file('.GiT/hooks')], 'unsafe-path', '.GiT/hooks'],
    ['absolute path', [file('/etc/x')], 'unsafe-path', '/etc/x'],
    ['doubled slash', [file('a//b')], 'unsafe-path', 'a//b'],
    ['empty path', [file('')], 'unsafe-path', ''],
    ['invalid UTF-8', [file('bad\ufffd')], 'unsafe-path', 'bad\ufffd'],
    ['too many files', [file('a'), file('b'), file('c'), file('d')], 'max-files', 'd'],
    ['too many dirs', [dir('a'), dir('b'), dir('c'), dir('d')], 'max-files', 'd'],
    ['total bytes', [file('a', 60), file('b', 41)], 'max-bytes', 'b'],
    ['one big file', [file('a', 61)], 'max-file-bytes', 'a'],
    ['long path', [file('x'.repeat(21))], 'max-path-length', 'x'.repeat(21)],
    ['duplicate', [file('a'), file('a')], 'duplicate-path', 'a'],
    ['file and dir with one name', [file('a'), dir('a')], 'duplicate-path', 'a'],
    ['odd blob mode', [file('a', 1, '100000x')], 'unsupported-entry', 'a'],
    ['tree with a blob mode', [{ ...dir('a'), mode: '100644' }], 'unsupported-entry', 'a'],
  ];
  for (const [name, entries, rule, path] of rows) {
    it(`refuses: ${name} (${rule})`, () => {
      const violation = findTreeViolation(entries, limits);
      assert.ok(violation, 'expected a violation');
      assert.equal(violation.rule, rule);
      assert.equal(violation.path, path);
      assert.ok(violation.message.includes(JSON.stringify(path)), violation.message);
    });
  }

  it('names the limit in limit messages', () => {
    assert.match(findTreeViolation([file('a', 61)], limits)?.message ?? '', /60/);
    assert.match(findTreeViolation([file('a', 60), file('b', 41)], limits)?.message ?? '', /100/);
    assert.match(findTreeViolation([file('x'.repeat(21))], limits)?.message ?? '', /20/);
  });

  it('refuses a single name longer than the filesystem allows, even within maxPathLength', () => {
    const v = findTreeViolation([file('n'.repeat(256))], { ...limits, maxPathLength: 1000 });
    assert.equal(v?.rule, 'max-path-length');
  });

  it('shows control characters in the path visibly', () => {
    const v = findTreeViolation([file('evil\n\u001b[2Jlink', 1, '120000')], limits);
    assert.ok(v?.message.includes('"evil\\n\\u001b[2Jlink"'), v?.message);
  });

  it('has sane defaults', () => {
    assert.deepEqual(
      { ...DEFAULT_CHECKOUT_LIMITS },
      { maxFiles: 5000, maxBytes: 50 * 1024 * 1024, maxFileBytes: 5 * 1024 * 1024, maxPathLength: 512, timeoutMs: 120_000 },
    );
  });
});

describe('parseLsTree', () => {
  it('reads NUL-separated records whose paths hold tabs, newlines and spaces', () => {
    const out = Buffer.concat([
      Buffer.from(`040000 tree ${SHA}       -\tdir\0`),
      Buffer.from(`100755 blob ${SHA}      12\tdir/a b\tc\nd\0`),
      Buffer.from(`160000 commit ${SHA}       -\tsub\0`),
      Buffer.from(`100644 blob ${'c'.repeat(64)} 123456789\tbig\0`),
    ]);
    assert.deepEqual(parseLsTree(out), [
      { mode: '040000', type: 'tree', sha: SHA, size: null, path: 'dir' },
      { mode: '100755', type: 'blob', sha: SHA, size: 12, path: 'dir/a b\tc\nd' },
      { mode: '160000', type: 'commit', sha: SHA, size: null, path: 'sub' },
      { mode: '100644', type: 'blob', sha: 'c'.repeat(64), size: 123456789, path: 'big' },
    ]);
  });

  it('decodes invalid UTF-8 to U+FFFD so the path is refused', () => {
    const out = Buffer.concat([Buffer.from(`100644 blob ${SHA}       1\tbad`), Buffer.from([0xff, 0]), Buffer.alloc(0)]);
    const [entry] = parseLsTree(out);
    assert.equal(entry?.path, 'bad\ufffd');
    assert.equal(findTreeViolation(parseLsTree(out), limits)?.rule, 'unsafe-path');
  });

  it('returns nothing for empty output', () => {
    assert.deepEqual(parseLsTree(Buffer.alloc(0)), []);
  });

  for (const [name, text] of [
    ['missing terminator', `100644 blob ${SHA}       1\ta`],
    ['no tab', `100644 blob ${SHA}       1 a\0`],
    ['unknown type', `100644 tag ${SHA}       1\ta\0`],
    ['short sha', `100644 blob ${SHA.slice(1)}       1\ta\0`],
  ] as const) {
    it(`throws on ${name}`, () => {
      assert.throws(() => parseLsTree(Buffer.from(text)));
    });
  }
});

describe('isObjectId', () => {
  for (const [value, expected] of [
    ['a'.repeat(40), true],
    ['a'.repeat(64), true],
    ['A'.repeat(40), false],
    ['a'.repeat(39), false],
    ['a'.repeat(41), false],
    [`${'a'.repeat(40)}\n`, false],
    ['g'.repeat(40), false],
    ['--upload-pack=touch PWNED', false],
    ['HEAD', false],
  ] as const) {
    it(`${JSON.stringify(value)} → ${expected}`, () => assert.equal(isObjectId(value), expected));
  }
});
