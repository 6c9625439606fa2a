// Value scrubbing: every secret the runner has loaded is replaced before any byte leaves the process.
// Path redaction (pino `redact`) cannot see a secret embedded in a string; this can.

const MIN_SECRET_LENGTH = 6;
export const SCRUBBED = '[scrubbed]';

/** A set of known secret values and a function that removes them from any string or structure. */
export class Scrubber {
  readonly #secrets = new Set<string>();
  #pattern: RegExp | null = null;

  /** Register a secret value; short values are refused because scrubbing them would shred ordinary text. */
  add(value: string | undefined | null): void {
    if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH || this.#secrets.has(value)) return;
    this.#secrets.add(value);
    // Also catch the encodings a secret commonly travels in.
    this.#secrets.add(Buffer.from(value).toString('base64'));
    this.#secrets.add(encodeURIComponent(value));
    this.#secrets.add(JSON.stringify(value).slice(1, -1));
    this.#pattern = null;
  }

  get size(): number {
    return this.#secrets.size;
  }

  /** Replace every known secret inside `text`. */
  scrubString(text: string): string {
    if (this.#secrets.size === 0 || text.length < MIN_SECRET_LENGTH) return text;
    this.#pattern ??= buildPattern(this.#secrets);
    return text.replace(this.#pattern, SCRUBBED);
  }

  /** Deep-copy `value` with every string scrubbed; safe on cycles. */
  scrub<T>(value: T): T {
    return scrubValue(this, value, new WeakMap()) as T;
  }
}

function buildPattern(secrets: Set<string>): RegExp {
  const sorted = [...secrets].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  return new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
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
