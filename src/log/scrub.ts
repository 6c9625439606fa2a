// Value scrubbing: every secret the runner has loaded is replaced before any byte leaves the process.
// Path redaction (pino `redact`) cannot see a secret embedded in a string; this can.
//
// A secret travels in more shapes than its own bytes: upper- or lower-cased by a tool, hex, URL- or
// JSON-escaped, base64 or base64url, and, inside a longer base64 blob, at any of three byte alignments
// (each gives different characters). All of those are matched. And text that was cut (an output tail, a
// length cap) can end or begin inside a secret: `scrubCut` also removes what is left of a secret at a cut
// edge, so the visible part of a half-cut secret is never shown. Where code takes a tail or an excerpt it
// scrubs first and cuts after, or says where the text was cut.

const MIN_SECRET_LENGTH = 6;
export const SCRUBBED = '[scrubbed]';

/** A set of known secret values and a function that removes them from any string or structure. */
export class Scrubber {
  readonly #values = new Set<string>();
  readonly #forms = new Set<string>();
  #pattern: RegExp | null = null;
  #lowerForms: string[] | null = null;

  /** Register a secret value; short values are refused because scrubbing them would shred ordinary text. */
  add(value: string | undefined | null): void {
    if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH || this.#values.has(value)) return;
    this.#values.add(value);
    for (const form of formsOf(value)) if (form.length >= MIN_SECRET_LENGTH) this.#forms.add(form);
    this.#pattern = null;
    this.#lowerForms = null;
  }

  /** How many forms (the value and its encodings) are matched. */
  get size(): number {
    return this.#forms.size;
  }

  /** Replace every known secret inside `text`, in any of its forms, whatever its letter case. */
  scrubString(text: string): string {
    if (this.#forms.size === 0 || text.length < MIN_SECRET_LENGTH) return text;
    this.#pattern ??= buildPattern(this.#forms);
    return text.replace(this.#pattern, SCRUBBED);
  }

  /**
   * Scrub text that was cut out of something longer: also replace what is left of a secret where the text
   * was cut (`before`: the text starts where something was cut off; `after`: it ends where the rest was).
   */
  scrubCut(text: string, cut: { before?: boolean; after?: boolean }): string {
    let out = this.scrubString(text);
    if (this.#forms.size === 0 || out === '') return out;
    this.#lowerForms ??= [...this.#forms].map((f) => f.toLowerCase());
    const lower = out.toLowerCase();
    if (cut.before && cut.after && this.#lowerForms.some((f) => f.includes(lower))) return SCRUBBED;
    if (cut.before) {
      const k = longestEdge(this.#lowerForms, (f, n) => lower.startsWith(f.slice(f.length - n)), lower.length);
      if (k > 0) out = SCRUBBED + out.slice(k);
    }
    if (cut.after) {
      const lowerNow = out.toLowerCase();
      const k = longestEdge(this.#lowerForms, (f, n) => lowerNow.endsWith(f.slice(0, n)), lowerNow.length);
      if (k > 0) out = out.slice(0, out.length - k) + SCRUBBED;
    }
    return out;
  }

  /** The last `maxChars` of `text`, scrubbed before it is cut (and at the cut, if `text` was cut itself). */
  tail(text: string, maxChars: number, opts: { alreadyCut?: boolean } = {}): string {
    const clean = this.scrubCut(text, { before: opts.alreadyCut === true });
    return clean.length <= maxChars ? clean : this.scrubCut(clean.slice(clean.length - maxChars), { before: true });
  }

  /** Deep-copy `value` with every string scrubbed; safe on cycles. */
  scrub<T>(value: T): T {
    return scrubValue(this, value, new WeakMap()) as T;
  }
}

/** The longest n (below a form's full length, which scrubString already handles) for which `matches` holds. */
function longestEdge(forms: string[], matches: (form: string, n: number) => boolean, limit: number): number {
  let best = 0;
  for (const f of forms) {
    for (let n = Math.min(f.length - 1, limit); n > best; n--) {
      if (matches(f, n)) {
        best = n;
        break;
      }
    }
  }
  return best;
}

/** The shapes a secret is printed in; letter case is handled by the pattern. */
function formsOf(value: string): string[] {
  const bytes = Buffer.from(value);
  return [
    value,
    bytes.toString('base64'),
    bytes.toString('base64url'),
    ...base64Cores(bytes, 'base64'),
    ...base64Cores(bytes, 'base64url'),
    bytes.toString('hex'),
    encodeURIComponent(value),
    JSON.stringify(value).slice(1, -1),
  ];
}

/**
 * The characters of `bytes`' encoding that depend on its bytes alone, when it sits inside a longer encoded
 * blob at each of the three byte alignments: the first and last characters mix in neighbouring bytes.
 */
export function base64Cores(bytes: Buffer, encoding: 'base64' | 'base64url'): string[] {
  const cores: string[] = [];
  for (let align = 0; align < 3; align++) {
    const encoded = Buffer.concat([Buffer.alloc(align), bytes]).toString(encoding);
    const first = Math.ceil((8 * align) / 6);
    const end = Math.floor((8 * (align + bytes.length)) / 6);
    cores.push(encoded.slice(first, end));
  }
  return cores;
}

function buildPattern(forms: Set<string>): RegExp {
  const sorted = [...forms].sort((a, b) => b.length - a.length);
  return new RegExp(sorted.map(escapeRegExp).join('|'), 'giu');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function scrubValue(scrubber: Scrubber, value: unknown, seen: WeakMap<object, unknown>): unknown {
  if (typeof value === 'string') return scrubber.scrubString(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return seen.get(value);
  if (value instanceof Error) {
    const copy = new Error(scrubber.scrubString(value.message));
    seen.set(value, copy);
    copy.name = value.name;
    if (value.stack) copy.stack = scrubber.scrubString(value.stack);
    for (const [k, v] of Object.entries(value)) (copy as unknown as Record<string, unknown>)[k] = scrubValue(scrubber, v, seen);
    if (value.cause !== undefined) copy.cause = scrubValue(scrubber, value.cause, seen);
    return copy;
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const v of value) out.push(scrubValue(scrubber, v, seen));
    return out;
  }
  if (Buffer.isBuffer(value)) return scrubber.scrubString(value.toString('utf8'));
  const out: Record<string, unknown> = {};
  seen.set(value, out);
  for (const [k, v] of Object.entries(value)) out[k] = scrubValue(scrubber, v, seen);
  return out;
}

/** The process-wide scrubber: one instance, so every output path sees every secret. */
export const scrubber = new Scrubber();
