// Verifying a chain: pure, over a stream of lines. It names the first bad seq and why. Each record must
// hash to its own `hash` (else: edited), carry the next seq (else: deleted or reordered), and link to the
// previous record's hash (else: bad link). A line that is not a record is unparsable.
import { GENESIS, hashRecord, type AuditRecord, type ChainHead } from './audit.ts';
import type { ChainLine } from './chain-lines.ts';

export type BreakReason = 'unparsable' | 'edited' | 'reordered' | 'deleted' | 'bad-link';

export interface ChainBreak {
  /** The first seq that is not where it should be: the seq expected at the damaged line. */
  seq: number;
  reason: BreakReason;
  /** 1-based line number of the damaged line. */
  line: number;
  message: string;
}

export type VerifyResult =
  | { ok: true; records: number; head: ChainHead; againstFound?: boolean }
  | { ok: false; records: number; head: ChainHead; break: ChainBreak; againstFound?: boolean };

export interface VerifyOptions {
  /** A head hash witnessed earlier: the result says whether it is still on the valid chain. */
  against?: string;
  /** Skip a last line without a newline: another process may be writing it right now. */
  ignorePartialTail?: boolean;
  /** Continue a chain from a known head (incremental checks); defaults to the genesis. */
  from?: ChainHead;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Pure: the record in `text`, or why it is not one. */
export function parseRecord(text: string): AuditRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const r = value as Partial<AuditRecord>;
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 1) return 'no valid `seq`';
  if (typeof r.hash !== 'string' || !HEX64.test(r.hash)) return 'no valid `hash`';
  if (typeof r.prev !== 'string' || !HEX64.test(r.prev)) return 'no valid `prev`';
  if (typeof r.type !== 'string' || typeof r.time !== 'string') return 'no `type` or `time`';
  if (r.actor === null || typeof r.actor !== 'object') return 'no `actor`';
  return r as AuditRecord;
}

/** Checks one chain's lines in order; feed `push`, then read `result()`. */
export class ChainVerifier {
  #head: ChainHead;
  #records = 0;
  #broken: ChainBreak | null = null;
  #againstFound = false;
  // After a seq mismatch: whether the missing seq turns up further down (reordered) or never (deleted).
  #lookingFor: { seq: number; found: boolean; foundSeq: number } | null = null;

  constructor(private readonly options: VerifyOptions = {}) {
    this.#head = { ...(options.from ?? { seq: 0, hash: GENESIS }) };
    if (options.against && options.against === this.#head.hash && this.#head.seq > 0) this.#againstFound = true;
  }

  get broken(): boolean {
    return this.#broken !== null;
  }

  get head(): ChainHead {
    return { ...this.#head };
  }

  /** Take the next line; returns the record when it extends the valid chain, else null. */
  push(line: Pick<ChainLine, 'text' | 'lineNo'> & { terminated?: boolean }): AuditRecord | null {
    if (line.terminated === false && this.options.ignorePartialTail) return null;
    if (this.#broken) {
      this.#lookAhead(line.text);
      return null;
    }
    const expected = this.#head.seq + 1;
    const parsed = parseRecord(line.text);
    if (typeof parsed === 'string') {
      const torn = line.terminated === false ? ' (a torn last line with no newline: the writer moves it aside when it next starts)' : '';
      return this.#break({ seq: expected, reason: 'unparsable', line: line.lineNo, message: `line ${line.lineNo} is not a record: ${parsed}${torn}` });
    }
    const { hash, ...unsealed } = parsed;
    if (hashRecord(unsealed) !== hash) {
      return this.#break({ seq: expected, reason: 'edited', line: line.lineNo, message: `line ${line.lineNo} (seq ${parsed.seq}) does not hash to its own \`hash\`: its content was changed after it was written` });
    }
    if (parsed.seq > expected) {
      this.#lookingFor = { seq: expected, found: false, foundSeq: parsed.seq };
      return this.#break({ seq: expected, reason: 'deleted', line: line.lineNo, message: '' });
    }
    if (parsed.seq < expected) {
      return this.#break({ seq: expected, reason: 'reordered', line: line.lineNo, message: `line ${line.lineNo} holds seq ${parsed.seq} where seq ${expected} belongs: a record was moved or copied here` });
    }
    if (parsed.prev !== this.#head.hash) {
      return this.#break({ seq: expected, reason: 'bad-link', line: line.lineNo, message: `seq ${expected} does not link to the hash of seq ${this.#head.seq}: a record before it was replaced or rewritten` });
    }
    this.#head = { seq: parsed.seq, hash };
    this.#records++;
    if (this.options.against === hash) this.#againstFound = true;
    return parsed;
  }

  /** The verdict over every line pushed so far. */
  result(): VerifyResult {
    const against = this.options.against === undefined ? {} : { againstFound: this.#againstFound };
    if (!this.#broken) return { ok: true, records: this.#records, head: this.head, ...against };
    return { ok: false, records: this.#records, head: this.head, break: this.#describeBreak(), ...against };
  }

  #break(b: ChainBreak): null {
    this.#broken = b;
    return null;
  }

  #lookAhead(text: string): void {
    if (!this.#lookingFor || this.#lookingFor.found) return;
    const parsed = parseRecord(text);
    if (typeof parsed !== 'string' && parsed.seq === this.#lookingFor.seq) this.#lookingFor.found = true;
  }

  #describeBreak(): ChainBreak {
    const b = this.#broken!;
    if (b.reason !== 'deleted' || !this.#lookingFor) return b;
    const { seq, found, foundSeq } = this.#lookingFor;
    if (found) {
      return { ...b, reason: 'reordered', message: `line ${b.line} holds seq ${foundSeq} where seq ${seq} belongs, and seq ${seq} comes later: records were reordered` };
    }
    const missing = foundSeq - 1 === seq ? `seq ${seq} is` : `seqs ${seq}–${foundSeq - 1} are`;
    return { ...b, message: `${missing} missing: line ${b.line} holds seq ${foundSeq} where seq ${seq} belongs (records were deleted)` };
  }
}

/** Pure: verify one chain given as lines (strings, or ChainLines from readChainLines). */
export async function verifyLines(lines: AsyncIterable<ChainLine | string> | Iterable<ChainLine | string>, options: VerifyOptions = {}): Promise<VerifyResult> {
  const verifier = new ChainVerifier(options);
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    verifier.push(typeof line === 'string' ? { text: line, lineNo } : line);
  }
  return verifier.result();
}
