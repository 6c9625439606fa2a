// A push scanner for one JSON document, with bounded memory: it checks the grammar (nesting, separators,
// literals, string ends), skips strings with Buffer#indexOf, and materialises only the values a subclass
// asks for. What a value means is the subclass's business (plan-json-scanner.ts); this file knows JSON.
import { PlanJsonError } from './errors.ts';
import { describeValue } from './summary.ts';
import {
  BACKSLASH, IS_LITERAL, IS_WHITESPACE, K_NONE, KIND_ARRAY, KIND_OBJECT, M_LITERAL, M_NONE, M_STRING, MAX_CAPTURE_BYTES, MAX_DEPTH, MAX_KEY_CHARS,
  MAX_LITERAL_CHARS, NUMBER, QUOTE, R_OTHER, R_ROOT, S_COLON, S_COMMA_OR_CLOSE, S_DONE, S_KEY, S_KEY_OR_CLOSE, S_VALUE, S_VALUE_OR_CLOSE, trailingBackslashes,
} from './plan-json-keys.ts';
import { MAX_PICK_BYTES } from './plan-json-picker.ts';

export abstract class JsonScanner {
  protected base = 0; // file offset of the current chunk
  protected state = S_VALUE;
  protected mode = M_NONE;
  protected depth = 0;
  protected readonly kinds = new Uint8Array(MAX_DEPTH);
  /** What each open container is to the subclass (R_OTHER: nothing; its keys are not even collected). */
  protected readonly roles = new Uint8Array(MAX_DEPTH);
  protected readonly keys = new Uint32Array(MAX_DEPTH);
  protected readonly seen = new Uint32Array(MAX_DEPTH); // keys of interest met so far, per object
  private keyLimit = MAX_KEY_CHARS;

  // a string in progress
  private escapeNext = false;
  private stringIsKey = false;
  private keyText: string | null = null; // collected key text, or null when the key is not of interest
  protected tokenStart = 0; // file offset of the token in progress, for errors

  // a number or true/false/null in progress
  private literalText = '';

  // a value being materialised
  private capturing = false;
  protected captureKey = K_NONE;
  private captureDepth = 0;
  private captureFrom = 0; // where the capture starts in the current chunk
  private captureParts: Buffer[] = [];
  private captureBytes = 0;
  protected captureStart = 0; // file offset
  /** A soft capture (a picked value) over its limit is reported too large; a hard one fails the document. */
  private captureSoft = false;
  private softTooLarge = false;

  /** The role of a value that starts at `i` inside a container with role `parentRole`, under `key`. */
  protected abstract roleOfValue(i: number, c: number, parentRole: number, key: number): number;
  /** A container with `role` opened at depth `d`. */
  protected abstract containerOpened(d: number, role: number): void;
  /** The container at depth `d` closed. */
  protected abstract containerClosed(d: number): void;
  /** The longest key worth collecting in a container with `role`. */
  protected abstract keyLimitFor(role: number): number;
  /** A key of the object at depth `d` ended: its latin1 text, or null when not collected or too long. */
  protected abstract onKey(d: number, key: string | null, end: number): void;
  /** A captured value is complete (`tooLarge`: a soft capture over its limit, not decoded). */
  protected abstract onCaptured(key: number, value: unknown, tooLarge: boolean): void;
  /** What the value being captured is, for errors. */
  protected abstract whereCaptured(): string;

  /** Scan the next chunk of the file. */
  push(chunk: Buffer): void {
    const n = chunk.length;
    if (n === 0) return;
    this.captureFrom = 0;
    let i = 0;
    if (this.mode === M_STRING) i = this.continueString(chunk, 0);
    else if (this.mode === M_LITERAL) i = this.scanLiteral(chunk, 0);

    while (i >= 0 && i < n) {
      const c = chunk[i]!;
      if (IS_WHITESPACE[c] === 1) {
        i++;
        continue;
      }
      switch (this.state) {
        case S_COMMA_OR_CLOSE:
          if (c === 0x2c /* , */) {
            this.state = this.kinds[this.depth - 1] === KIND_OBJECT ? S_KEY : S_VALUE;
            i++;
          } else if (c === 0x7d /* } */ && this.kinds[this.depth - 1] === KIND_OBJECT) {
            i = this.close(chunk, i);
          } else if (c === 0x5d /* ] */ && this.kinds[this.depth - 1] === KIND_ARRAY) {
            i = this.close(chunk, i);
          } else {
            this.fail(i, `expected ',' or '${this.kinds[this.depth - 1] === KIND_OBJECT ? '}' : ']'}'`, c);
          }
          break;
        case S_KEY_OR_CLOSE:
        case S_KEY:
          if (c === QUOTE) {
            i = this.startKey(chunk, i);
          } else if (c === 0x7d && this.state === S_KEY_OR_CLOSE) {
            i = this.close(chunk, i);
          } else {
            this.fail(i, 'expected a key in double quotes', c);
          }
          break;
        case S_COLON:
          if (c !== 0x3a /* : */) this.fail(i, "expected ':' after a key", c);
          this.state = S_VALUE;
          i++;
          break;
        case S_VALUE:
        case S_VALUE_OR_CLOSE:
          if (c === 0x5d && this.state === S_VALUE_OR_CLOSE) i = this.close(chunk, i);
          else i = this.startValue(chunk, i, c);
          break;
        default:
          this.fail(i, 'unexpected data after the end of the JSON document', c);
      }
    }

    if (this.capturing) this.keepCapturedPart(chunk, n);
    this.base += n;
  }

  /** The document must be complete: one closed value, no token left open. */
  protected endDocument(): void {
    if (this.state !== S_DONE || this.mode !== M_NONE) {
      if (this.base === 0) throw new PlanJsonError('the plan JSON is empty', { byteOffset: 0 });
      const inside = this.mode === M_STRING ? ' inside a string' : '';
      throw new PlanJsonError(
        `the plan JSON ends early at byte ${this.base}${inside}: the file is truncated or not one JSON document`,
        { byteOffset: this.base },
      );
    }
  }

  private startValue(chunk: Buffer, i: number, c: number): number {
    const parent = this.depth - 1;
    let role = R_OTHER;
    if (parent < 0) {
      if (c !== 0x7b) this.fail(i, 'the plan JSON must be an object', c);
      role = R_ROOT;
    } else {
      const parentRole = this.roles[parent]!;
      if (parentRole !== R_OTHER) role = this.roleOfValue(i, c, parentRole, this.keys[parent]!);
    }

    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (this.depth === MAX_DEPTH) this.fail(i, `values are nested deeper than ${MAX_DEPTH} levels`);
      const d = this.depth++;
      this.kinds[d] = c === 0x7b ? KIND_OBJECT : KIND_ARRAY;
      this.roles[d] = role;
      this.containerOpened(d, role);
      this.keys[d] = K_NONE;
      this.seen[d] = 0;
      this.state = c === 0x7b ? S_KEY_OR_CLOSE : S_VALUE_OR_CLOSE;
      return i + 1;
    }
    if (c === QUOTE) {
      this.stringIsKey = false;
      this.keyText = null;
      this.tokenStart = this.base + i;
      this.mode = M_STRING;
      return this.scanString(chunk, i + 1);
    }
    if (IS_LITERAL[c] === 1 && c !== 0x2b && c !== 0x2e && c !== 0x45 && c !== 0x65) {
      this.literalText = '';
      this.tokenStart = this.base + i;
      this.mode = M_LITERAL;
      return this.scanLiteral(chunk, i);
    }
    return this.fail(i, 'expected a value', c);
  }

  private close(chunk: Buffer, i: number): number {
    const d = --this.depth;
    this.containerClosed(d);
    this.valueEnded(chunk, i + 1);
    return i + 1;
  }

  private valueEnded(chunk: Buffer, end: number): void {
    this.state = this.depth === 0 ? S_DONE : S_COMMA_OR_CLOSE;
    if (this.capturing && this.depth === this.captureDepth) this.finishCapture(chunk, end);
  }

  private startKey(chunk: Buffer, i: number): number {
    this.stringIsKey = true;
    const role = this.roles[this.depth - 1];
    this.keyText = role === R_OTHER ? null : '';
    this.keyLimit = this.keyLimitFor(role!);
    this.tokenStart = this.base + i;
    this.mode = M_STRING;
    return this.scanString(chunk, i + 1);
  }

  /** Skip string content from `from` (just past the opening quote); -1 when the string goes on in the next chunk. */
  private scanString(chunk: Buffer, from: number): number {
    let j = from;
    for (;;) {
      const q = chunk.indexOf(QUOTE, j);
      if (q === -1) {
        this.escapeNext = (trailingBackslashes(chunk, chunk.length, from) & 1) === 1;
        if (this.keyText !== null) this.collectKey(chunk, from, chunk.length);
        return -1;
      }
      if ((trailingBackslashes(chunk, q, from) & 1) === 0) {
        this.mode = M_NONE;
        if (this.stringIsKey) this.keyEnded(chunk, from, q);
        else this.valueEnded(chunk, q + 1);
        return q + 1;
      }
      j = q + 1;
    }
  }

  private continueString(chunk: Buffer, i: number): number {
    let from = i;
    if (this.escapeNext) {
      // The previous chunk ended on an escaping backslash; this byte is the escaped character.
      this.escapeNext = false;
      if (this.keyText !== null) this.collectKey(chunk, from, from + 1);
      from++;
      if (from >= chunk.length) return -1;
    }
    return this.scanString(chunk, from);
  }

  private collectKey(chunk: Buffer, from: number, to: number): void {
    const text = this.keyText! + chunk.toString('latin1', from, Math.min(to, from + this.keyLimit + 1));
    this.keyText = text.length > this.keyLimit ? null : text;
  }

  private keyEnded(chunk: Buffer, from: number, to: number): void {
    this.state = S_COLON;
    const d = this.depth - 1;
    this.keys[d] = K_NONE;
    let key: string | null = null;
    if (this.keyText !== null) {
      const text = this.keyText + chunk.toString('latin1', from, Math.min(to, from + this.keyLimit + 1));
      this.keyText = null;
      if (text.length <= this.keyLimit) key = text;
    }
    this.onKey(d, key, to);
  }

  /** A key with escapes (`"addr\u0065ss"`) means what JSON.parse says it means. */
  protected decodeKey(key: string, offset: number): string {
    // The text is latin1, which is exact for the ASCII names matched against and for every escape.
    try {
      return JSON.parse(`"${key}"`) as string;
    } catch (err) {
      return this.failAt(offset, 'a key is not a valid JSON string', err);
    }
  }

  /** Consume a number or true/false/null; the byte after it is left for the main loop. */
  private scanLiteral(chunk: Buffer, i: number): number {
    let j = i;
    const n = chunk.length;
    while (j < n && IS_LITERAL[chunk[j]!] === 1) j++;
    const text = this.literalText + chunk.toString('latin1', i, j);
    if (text.length > MAX_LITERAL_CHARS) this.failAt(this.tokenStart, 'a number is too long');
    if (j === n) {
      this.literalText = text;
      return -1;
    }
    this.literalText = '';
    this.mode = M_NONE;
    if (text !== 'true' && text !== 'false' && text !== 'null' && !NUMBER.test(text)) {
      this.failAt(this.tokenStart, `invalid literal ${describeValue(text)}`);
    }
    this.valueEnded(chunk, j);
    return j;
  }

  protected startCapture(i: number, key: number, soft = false): void {
    this.capturing = true;
    this.captureSoft = soft;
    this.captureKey = key;
    this.captureDepth = this.depth;
    this.captureFrom = i;
    this.captureParts = [];
    this.captureBytes = 0;
    this.captureStart = this.base + i;
  }

  private keepCapturedPart(chunk: Buffer, end: number): void {
    if (this.captureSoft) {
      this.captureBytes += end - this.captureFrom;
      if (this.captureBytes > MAX_PICK_BYTES) this.softTooLarge = true;
      if (this.softTooLarge) this.captureParts = [];
      else this.captureParts.push(Buffer.from(chunk.subarray(this.captureFrom, end)));
      return;
    }
    this.captureBytes += end - this.captureFrom;
    if (this.captureBytes > MAX_CAPTURE_BYTES) {
      this.failAt(this.captureStart, `${this.whereCaptured()} is larger than ${MAX_CAPTURE_BYTES} bytes`);
    }
    this.captureParts.push(Buffer.from(chunk.subarray(this.captureFrom, end)));
  }

  private finishCapture(chunk: Buffer, end: number): void {
    this.capturing = false;
    if (this.captureSoft && (this.softTooLarge || this.captureBytes + (end - this.captureFrom) > MAX_PICK_BYTES)) {
      this.softTooLarge = false;
      this.captureParts = [];
      this.onCaptured(this.captureKey, undefined, true);
      return;
    }
    let raw = chunk.subarray(this.captureFrom, end);
    if (this.captureParts.length > 0) {
      this.keepCapturedPart(chunk, end);
      raw = Buffer.concat(this.captureParts);
      this.captureParts = [];
    } else if (raw.length > MAX_CAPTURE_BYTES) {
      this.failAt(this.captureStart, `${this.whereCaptured()} is larger than ${MAX_CAPTURE_BYTES} bytes`);
    }
    let value: unknown;
    try {
      value = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      this.failAt(this.captureStart, `${this.whereCaptured()} is not valid JSON`, err);
    }
    this.onCaptured(this.captureKey, value, false);
  }

  protected fail(i: number, what: string, c?: number, cause?: unknown): never {
    const found = c === undefined ? '' : `, found ${describeValue(String.fromCharCode(c))}`;
    return this.failAt(this.base + i, `${what}${found}`, cause);
  }

  protected failAt(offset: number, what: string, cause?: unknown): never {
    throw new PlanJsonError(`invalid plan JSON at byte ${offset}: ${what}`, { byteOffset: offset, cause });
  }
}
