// Showing attacker-controlled strings (resource addresses, for_each keys, branch names, commit messages)
// on terminals, phones and forge comments without letting them steer what the human sees. Pure, apart
// from the process scrubber: a string is scrubbed before it is cut, so a cut never leaves half a secret.
import { scrubber } from '../log/scrub.ts';

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
  for (const ch of Number.isFinite(limit) ? scrubber.scrubString(s) : s) {
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

/**
 * Whether a name holds anything but ASCII: the shape of a homoglyph. Checking word by word for mixed
 * scripts misses an address made entirely of Cyrillic letters that look Latin ("аws_іnstance"), so every
 * identifier with a non-ASCII character is flagged wherever a human reads it.
 */
export function mayLookAlike(s: string): boolean {
  return /[^\x00-\x7f]/.test(s);
}

/** The flag shown after a name that `mayLookAlike`. */
export const LOOKALIKE_FLAG = '[!] non-ASCII: look-alike letters?';

/** `visibleText`, followed by the look-alike flag when the name holds non-ASCII characters. */
export function flaggedText(s: string, maxLength = Infinity): string {
  return `${visibleText(s, maxLength)}${mayLookAlike(s) ? ` ${LOOKALIKE_FLAG}` : ''}`;
}

// What JSON.stringify leaves raw but a terminal obeys: C1 controls, bidi and other format characters, line
// and paragraph separators, variation selectors, Hangul fillers. Inside a JSON string `\uXXXX` means the
// same character, so escaping them changes no value.
const RAW_IN_JSON = /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\u{FE00}-\u{FE0F}\u{E0100}-\u{E01EF}\u115F\u1160\u3164\uFFA0]/gu;

/** JSON text with every display-steering character written as a `\uXXXX` escape, never raw. */
export function escapeJsonText(json: string): string {
  return json.replace(RAW_IN_JSON, (ch) =>
    [...ch]
      .flatMap((c) => (c.length === 2 ? [c.charCodeAt(0), c.charCodeAt(1)] : [c.charCodeAt(0)]))
      .map((u) => `\\u${u.toString(16).padStart(4, '0')}`)
      .join(''),
  );
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
