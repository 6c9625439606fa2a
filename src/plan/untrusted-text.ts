// Showing attacker-controlled strings (resource addresses, for_each keys, branch names, commit messages)
// on terminals, phones and forge comments without letting them steer what the human sees. Pure.

// Characters that change the display instead of being shown: C0/DEL/C1 controls (ANSI escapes start with
// ESC), format characters (bidi overrides and isolates, U+200E/F, U+061C, zero-width U+200B–200D, U+2060,
// U+FEFF, soft hyphen, tag characters), line/paragraph separators, lone surrogates, variation selectors and
// the blank "letters" (Hangul fillers) that render as nothing.
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u{FE00}-\u{FE0F}\u{E0100}-\u{E01EF}\u115F\u1160\u3164\uFFA0]/u;

/**
 * Make a string safe to print: every invisible or display-steering code point becomes a visible `\u{hex}`,
 * and the result is cut to at most `maxLength` code points (ending in '…') without splitting a pair.
 */
export function visibleText(s: string, maxLength = Infinity): string {
  const limit = Math.max(0, Math.floor(maxLength));
  const units: string[] = [];
  let length = 0;
  let cut = false;
  // `for…of` walks code points, so surrogate pairs stay whole and lone surrogates come out on their own.
  for (const ch of s) {
    const unit = HIDDEN.test(ch) ? `\\u{${ch.codePointAt(0)!.toString(16)}}` : ch;
    const unitLength = unit === ch ? 1 : unit.length;
    if (length + unitLength > limit) {
      cut = true;
      break;
    }
    units.push(unit);
    length += unitLength;
  }
  if (!cut) return units.join('');
  // Make room for the ellipsis by dropping whole units, so an escape is never left half-written.
  while (units.length > 0 && length + 1 > limit) length -= unitLengthOf(units.pop()!);
  return limit === 0 ? '' : `${units.join('')}…`;
}

function unitLengthOf(unit: string): number {
  return unit.startsWith('\\u{') ? unit.length : 1;
}

const LETTER = /\p{L}/u;
const WORD = /[\p{L}\p{M}\p{N}]+/gu;
// Scripts whose letters pass for Latin ones (а/a, о/o, ρ/p, Տ/S, Ꭺ/A…).
const LOOKALIKE_SCRIPTS: ReadonlyArray<[string, RegExp]> = [
  ['Cyrillic', /\p{Script=Cyrillic}/u],
  ['Greek', /\p{Script=Greek}/u],
  ['Armenian', /\p{Script=Armenian}/u],
  ['Cherokee', /\p{Script=Cherokee}/u],
  ['Coptic', /\p{Script=Coptic}/u],
];
const LATIN = /\p{Script=Latin}/u;
const NEUTRAL = /[\p{Script=Common}\p{Script=Inherited}]/u;

/**
 * Whether any word (a run of letters, marks and digits) mixes Latin with letters of another script, or mixes
 * two Latin look-alike scripts: the shape of a homoglyph ("pаypal" with a Cyrillic 'а').
 */
export function hasMixedScripts(s: string): boolean {
  for (const [word] of s.matchAll(WORD)) {
    let latin = false;
    let other = false;
    const lookalikes = new Set<string>();
    for (const ch of word) {
      if (!LETTER.test(ch) || NEUTRAL.test(ch)) continue;
      if (LATIN.test(ch)) {
        latin = true;
        continue;
      }
      other = true;
      for (const [name, re] of LOOKALIKE_SCRIPTS) if (re.test(ch)) lookalikes.add(name);
    }
    if ((latin && other) || lookalikes.size > 1) return true;
  }
  return false;
}

// Every ASCII punctuation character can be backslash-escaped in CommonMark/GFM; escaping all of them covers
// emphasis, code spans, links and images, headings, lists, tables, block quotes, raw HTML, entities, and
// breaks the `http://`, `www.` and `a@b.c` patterns GFM would otherwise turn into links.
const MARKDOWN_SPECIAL = /[!-\/:-@[-`{-~]/g;
const LINE_BREAK = /\r\n|[\r\n\u2028\u2029]/g;

/** Escape a string so that none of it renders as Markdown or HTML; line breaks become spaces. */
export function escapeMarkdown(s: string): string {
  return s.replace(MARKDOWN_SPECIAL, '\\$&').replace(LINE_BREAK, ' ');
}
