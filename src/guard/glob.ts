// Glob patterns for the runner config's allowlists and policy rules: `*` and `?` only, nothing that a
// pattern author could get surprised by (no braces, no classes, no escapes).

const cache = new Map<string, RegExp>();

/**
 * Whether `text` matches `pattern`. `*` matches any run of characters except `separator` (when one is
 * given), `**` matches across it, `?` matches one character. The whole text must match.
 */
export function matchesGlob(text: string, pattern: string, separator?: '/'): boolean {
  const key = `${separator ?? ''}\0${pattern}`;
  let re = cache.get(key);
  if (re === undefined) {
    re = compileGlob(pattern, separator);
    if (cache.size > 1000) cache.clear();
    cache.set(key, re);
  }
  return re.test(text);
}

function compileGlob(pattern: string, separator?: '/'): RegExp {
  const one = separator === undefined ? '[\\s\\S]' : '[^/]';
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        source += '[\\s\\S]*';
        i++;
      } else {
        source += `${one}*`;
      }
    } else if (c === '?') {
      source += one;
    } else {
      source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`, 'u');
}
