import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchesRefPattern, parseLsRemote, prNumberFromRef } from '../../src/watch/refs.ts';

const A = 'a'.repeat(40);
const B = '0123456789abcdef0123456789abcdef01234567';
const C256 = 'c'.repeat(64);

describe('parseLsRemote', () => {
  it('reads sha and ref from each well-formed line', () => {
    const out = `${A}\tHEAD\n${B}\trefs/pull/7/head\n${C256}\trefs/heads/main\n`;
    assert.deepEqual(parseLsRemote(out), [
      { ref: 'HEAD', sha: A },
      { ref: 'refs/pull/7/head', sha: B },
      { ref: 'refs/heads/main', sha: C256 },
    ]);
  });

  const skipped: Array<[string, string]> = [
    ['peeled tag entry', `${A}\trefs/tags/v1^{}`],
    ['uppercase hex', `${A.toUpperCase()}\trefs/heads/x`],
    ['short sha', `${A.slice(1)}\trefs/heads/x`],
    ['41 hex digits', `${A}a\trefs/heads/x`],
    ['space instead of tab', `${A} refs/heads/x`],
    ['no ref', `${A}\t`],
    ['two tabs', `${A}\trefs/heads/x\textra`],
    ['carriage return in ref', `${A}\trefs/heads/x\r`],
    ['escape in ref', `${A}\trefs/heads/\u001b[31mred`],
    ['symref line', `ref: refs/heads/main\tHEAD`],
    ['empty line', ``],
    ['garbage', `warning: something`],
  ];
  for (const [name, line] of skipped) {
    it(`skips: ${name}`, () => {
      assert.deepEqual(parseLsRemote(`${line}\n${B}\trefs/heads/ok\n`), [{ ref: 'refs/heads/ok', sha: B }]);
    });
  }

  it('keeps hostile but legal ref names verbatim', () => {
    const refs = ['refs/heads/--upload-pack=touch$IFS$9PWNED', 'refs/heads/$(touch${IFS}x);|&`y`', 'refs/heads/-x'];
    assert.deepEqual(
      parseLsRemote(refs.map((r) => `${A}\t${r}`).join('\n')),
      refs.map((ref) => ({ ref, sha: A })),
    );
  });
});

describe('matchesRefPattern', () => {
  const rows: Array<[string, string, boolean]> = [
    ['refs/pull/7/head', 'refs/pull/*/head', true],
    ['refs/pull/123/head', 'refs/pull/*/head', true],
    ['refs/pull/7/head/x', 'refs/pull/*/head', false],
    ['refs/pull/7/merge', 'refs/pull/*/head', false],
    ['refs/pull//head', 'refs/pull/*/head', false],
    ['refs/pull/7/8/head', 'refs/pull/*/head', false],
    ['xrefs/pull/7/head', 'refs/pull/*/head', false],
    ['refs/merge-requests/3/head', 'refs/merge-requests/*/head', true],
    ['refs/merge-requests/3/head', 'refs/pull/*/head', false],
    ['refs/heads/feature', 'refs/heads/*', true],
    ['refs/heads/feature/x', 'refs/heads/*', false],
    ['refs/heads/', 'refs/heads/*', false],
    ['refs/heads/--upload-pack=x', 'refs/heads/*', true],
    ['refs/heads/main', 'refs/heads/main', true],
    ['refs/heads/mainx', 'refs/heads/main', false],
    ['refs/heads/maXn', 'refs/heads/ma.n', false],
    ['refs/heads/agent-12', 'refs/heads/agent-*', true],
    ['refs/heads/agent-', 'refs/heads/agent-*', false],
    ['refs/heads/a+b', 'refs/heads/a+b', true],
    ['refs/heads/aab', 'refs/heads/a+b', false],
  ];
  for (const [ref, pattern, expected] of rows) {
    it(`${JSON.stringify(ref)} ${expected ? 'matches' : 'does not match'} ${pattern}`, () => {
      assert.equal(matchesRefPattern(ref, pattern), expected);
    });
  }
});

describe('prNumberFromRef', () => {
  const rows: Array<[string, number | null]> = [
    ['refs/pull/7/head', 7],
    ['refs/pull/7/merge', 7],
    ['refs/merge-requests/7/head', 7],
    ['refs/pull/12345/head', 12345],
    ['refs/merge-requests/7/merge', null],
    ['refs/pull/7/head/x', null],
    ['refs/pull//head', null],
    ['refs/pull/0/head', null],
    ['refs/pull/07/head', null],
    ['refs/pull/-1/head', null],
    ['refs/pull/7x/head', null],
    ['refs/pull/1e3/head', null],
    ['refs/pull/99999999999999999999/head', null],
    ['refs/heads/7', null],
    ['prefix/refs/pull/7/head', null],
  ];
  for (const [ref, expected] of rows) {
    it(`${ref} → ${expected}`, () => {
      assert.equal(prNumberFromRef(ref), expected);
    });
  }
});
