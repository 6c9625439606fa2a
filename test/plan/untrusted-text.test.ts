import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { escapeJsonText, escapeMarkdown, mayLookAlike, visibleText } from '../../src/lib/untrusted-text.ts';

describe('visibleText', () => {
  const rows: Array<[string, string, string]> = [
    ['plain address', 'aws_s3_bucket.logs["eu-west-1"]', 'aws_s3_bucket.logs["eu-west-1"]'],
    ['right-to-left override', 'user\u202Egnp.exe', 'user\\u{202e}gnp.exe'],
    ['bidi embeddings, isolates and marks', '\u202A\u202B\u202C\u202D\u2066\u2067\u2068\u2069\u200E\u200F\u061C', '\\u{202a}\\u{202b}\\u{202c}\\u{202d}\\u{2066}\\u{2067}\\u{2068}\\u{2069}\\u{200e}\\u{200f}\\u{61c}'],
    ['ANSI colour escape', '\x1b[31mred\x1b[0m', '\\u{1b}[31mred\\u{1b}[0m'],
    ['NUL', 'a\0b', 'a\\u{0}b'],
    ['zero-width joiner and friends', 'a\u200Db\u200Bc\u200Cd\u2060e\uFEFF', 'a\\u{200d}b\\u{200b}c\\u{200c}d\\u{2060}e\\u{feff}'],
    ['newlines and tabs', 'a\nb\r\nc\td', 'a\\u{a}b\\u{d}\\u{a}c\\u{9}d'],
    ['line and paragraph separators', 'a\u2028b\u2029c', 'a\\u{2028}b\\u{2029}c'],
    ['DEL and C1 controls (CSI)', 'a\x7Fb\x9B31mc\x85', 'a\\u{7f}b\\u{9b}31mc\\u{85}'],
    ['lone surrogate', 'a\uD800b', 'a\\u{d800}b'],
    ['Hangul filler and tag characters', 'a\u3164b\u{E0041}', 'a\\u{3164}b\\u{e0041}'],
    ['visible non-ASCII stays', 'pаypal ü 😀 日本', 'pаypal ü 😀 日本'],
  ];
  for (const [label, input, expected] of rows) {
    it(label, () => assert.equal(visibleText(input), expected));
  }

  it('truncates at maxLength code points with an ellipsis', () => {
    assert.equal(visibleText('abcdefgh', 5), 'abcd…');
    assert.equal(visibleText('abcde', 5), 'abcde');
    assert.equal(visibleText('abcdef', 1), '…');
    assert.equal(visibleText('abcdef', 0), '');
  });

  it('never splits a surrogate pair', () => {
    assert.equal(visibleText('😀😀😀😀', 3), '😀😀…');
    assert.equal(visibleText('a😀b', 2), 'a…');
  });

  it('never cuts an escape in half', () => {
    assert.equal(visibleText('ab\u202Ecd', 6), 'ab…');
    assert.equal(visibleText('ab\u202Ecd', 11), 'ab\\u{202e}…');
    assert.equal(visibleText('ab\u202Ecd', 12), 'ab\\u{202e}cd');
  });

  it('properties: no hidden or steering character survives, length is bounded, pairs stay whole', () => {
    const hidden = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), fc.integer({ min: 0, max: 40 }), (s, max) => {
        const out = visibleText(s, max);
        assert.ok(!hidden.test(out), JSON.stringify(out));
        assert.ok([...out].length <= max);
        assert.ok(!/\p{Cs}/u.test(out), 'no lone surrogate');
        if ([...visibleText(s)].length <= max) assert.equal(out, visibleText(s));
      }),
    );
  });
});

// The word-by-word mixed-script check missed names made only of look-alike letters ("раураl" in Cyrillic):
// every name with a non-ASCII character is flagged now.
describe('mayLookAlike', () => {
  const rows: Array<[string, boolean]> = [
    ['paypal', false],
    ['p\u0430ypal', true], // Cyrillic а inside a Latin word
    ['aws_s3_bucket.p\u0430ypal', true],
    ['\u0440\u0430\u0443', true], // all Cyrillic: looks like "pay"
    ['aws_iam_user.\u0440\u0430\u0443', true], // a whole Cyrillic word: the old check said false
    ['\u0430ws_\u0456nstance.web', true], // "aws_instance.web" with Cyrillic а and і
    ['g\u03BFogle', true],
    ['caf\u00E9', true],
    ['module.app["東京"]', true],
    ['aws_instance.web\u2024x', true], // one dot leader, not a full stop
    ['bucket-2024_v2', false],
    ['module.app["a b"]', false],
    ['', false],
  ];
  for (const [input, expected] of rows) {
    it(`${JSON.stringify(input)} → ${expected}`, () => assert.equal(mayLookAlike(input), expected));
  }
});

describe('escapeJsonText', () => {
  it('writes bidi, C1, zero-width and separator characters as \\u escapes; the JSON value is unchanged', () => {
    const value = { ref: 'refs/pull/1/head\u202Egnp.exe', name: 'a\u0085b\u200Bc\u2028d\u2066e\uFEFF', ok: 'plain – dash, é' };
    const json = escapeJsonText(JSON.stringify(value));
    assert.ok(!/[\u0080-\u009f\u200b\u202e\u2028\u2066\ufeff]/.test(json), json);
    assert.match(json, /\\u202e/);
    assert.deepEqual(JSON.parse(json), value);
    assert.match(json, /plain – dash, é/, 'ordinary non-ASCII text stays readable');
  });
});

describe('escapeMarkdown', () => {
  const rows: Array<[string, string, string]> = [
    ['plain', 'aws_instance web', 'aws\\_instance web'],
    ['link', '[click](http://x)', '\\[click\\]\\(http\\:\\/\\/x\\)'],
    ['image', '![a](b)', '\\!\\[a\\]\\(b\\)'],
    ['emphasis', '*a* _b_ ~~c~~', '\\*a\\* \\_b\\_ \\~\\~c\\~\\~'],
    ['code', '`rm -rf`', '\\`rm \\-rf\\`'],
    ['heading', '# Approved', '\\# Approved'],
    ['html', '<img src=x onerror=alert(1)>', '\\<img src\\=x onerror\\=alert\\(1\\)\\>'],
    ['entity', '&lt;', '\\&lt\\;'],
    ['autolinks', 'www.x.com a@b.co', 'www\\.x\\.com a\\@b\\.co'],
    ['table and quote', '| a | > b', '\\| a \\| \\> b'],
    ['backslash', 'a\\b', 'a\\\\b'],
    ['line breaks', 'a\nb\r\nc', 'a b c'],
  ];
  for (const [label, input, expected] of rows) {
    it(label, () => assert.equal(escapeMarkdown(input), expected));
  }

  it('leaves no unescaped ASCII punctuation', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        const out = escapeMarkdown(s);
        // Remove every escape pair; what is left must hold no Markdown punctuation at all.
        assert.ok(!/[!-/:-@[-`{-~]/.test(out.replace(/\\[!-/:-@[-`{-~]/g, '')), out);
        assert.ok(!/[\r\n]/.test(out));
      }),
    );
  });

  it('composes with visibleText', () => {
    assert.equal(escapeMarkdown(visibleText('\x1b[1m*x*')), '\\\\u\\{1b\\}\\[1m\\*x\\*');
  });
});
