// Stream a `terraform|tofu show -json` file into a plan summary with bounded memory.
//
// Why a purpose-built scanner: plan JSON reaches hundreds of MB to 1 GB, almost all of it attribute values
// (before/after, planned_values, prior_state, configuration) that the summary must never hold. The scanner
// walks the bytes once, tracks nesting and strings, checks the JSON grammar, and materialises only the few
// values it needs: the top-level `format_version`, `terraform_version` and `errored`, each
// `resource_changes[]` element's `address`, `previous_address`, `mode` and `change.actions` (and whether
// `change.importing` is set, never its value), each `resource_drift[]` element's `address`, `mode` and
// `change.actions` (the same entry shape; nothing is picked from it), and each `output_changes` member's name and `actions`. Strings are skipped with
// Buffer#indexOf, so value-heavy files go at memchr speed; nothing else from a value is ever decoded.
//
// Measured on this 2-core machine, node 20, plain node (no tsx), 1 MiB reads, on a 100 MB file from
// test/plan/generate-plan-json.ts (14,600 changes, valueBytes 1500, values in planned_values, before/after
// and prior_state as in real output); three runs each, same pick (top-level meta + address/mode/actions):
//   this scanner                                   195-270 MB/s   peak RSS 73-80 MB
//   @streamparser/json 0.0.26 (paths, keepStack off)  47 MB/s   peak RSS ~122 MB
//     … with stringBufferSize 64 KiB                73-77 MB/s   peak RSS 115-125 MB
//   stream-json 3.8.0 (parser + pick + streamValues) 36-59 MB/s   peak RSS ~205 MB
// (node alone is ~41 MB RSS.) At 1 GB (146k changes) the scanner runs at 330-370 MB/s with peak RSS ~110 MB;
// 500k changes / 1.3 GB at ~220 MB/s, ~150 MB RSS under tsx.
// Both libraries are current on npm (stream-json 3.8.0 of 2026-10, one dependency; @streamparser/json
// 0.0.26, none; `npm view` gives no download counts here) but both tokenise and decode every string and
// number before a filter drops it, so they sit near or below the 50 MB/s goal on this machine, and
// stream-json's README says it is not designed for hostile input. The scanner is one file with no
// dependency; test/plan/read-plan-json.test.ts checks it against JSON.parse on real, generated and random
// documents split at random chunk boundaries.
import { createReadStream } from 'node:fs';
import { PlanJsonError } from './errors.ts';
import { createSummaryBuilder, describeValue, type PlanSummary, type RawResourceChange } from './summary.ts';

/**
 * Which planned values (`change.after`) a caller needs, per resource: policy attribute limits. Only these
 * paths are decoded, only for these resources; every other value is skipped unread.
 */
export interface ValuePicker {
  pathsFor(address: string, type: string): readonly string[] | null;
}

/** What was picked from one change's `after` and `after_unknown` (see ValuePicker). */
export interface PickedAfter {
  /** Values at each path; a path through lists yields one value per element. */
  after: Record<string, unknown[]>;
  /** Paths whose value is unknown until apply. */
  unknown: string[];
  /** `change` came before `address`/`type` in the entry, so nothing could be picked. */
  unseen?: boolean;
}

export interface SummarizeOptions {
  maxListed?: number;
  picker?: ValuePicker;
  /** Called with every validated entry (address, mode, type, change.actions and `picked`). */
  onEntry?: (entry: RawResourceChange, index: number) => void;
  /** Called with every `output_changes` member: its name and `actions`. */
  onOutput?: (name: string, actions: unknown) => void;
}

/** Summarise a `show -json` file without ever holding the whole document or any attribute value. */
export async function summarizePlanFile(path: string, opts: SummarizeOptions = {}): Promise<PlanSummary> {
  const builder = createSummaryBuilder(opts);
  const onEntry = opts.onEntry;
  const scanner = new PlanJsonScanner(
    onEntry === undefined
      ? (entry, index) => builder.add(entry, index)
      : (entry, index) => {
          builder.add(entry, index);
          onEntry(entry, index);
        },
    {
      picker: opts.picker,
      onDrift: (entry, index) => builder.addDrift(entry, index),
      onOutput: (name, actions) => {
        builder.addOutput(name, actions);
        opts.onOutput?.(name, actions);
      },
    },
  );
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: CHUNK_BYTES })) {
      scanner.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof PlanJsonError) throw err;
    throw new PlanJsonError(`cannot read the plan JSON at ${describeValue(path)}: ${(err as Error).message}`, {
      cause: err,
      hint: 'Check that `show -json` wrote the file and that the runner can read it.',
    });
  }
  return builder.finish(scanner.end());
}

const CHUNK_BYTES = 1 << 20;
/** Largest value materialised (an address, an actions list); anything bigger is not a plan we can show. */
const MAX_CAPTURE_BYTES = 1 << 20;
const MAX_DEPTH = 10_000;
const MAX_LITERAL_CHARS = 1024;

// What the scanner expects next.
const S_VALUE = 0; // a value: at the root, after ':' or after ',' in an array
const S_VALUE_OR_CLOSE = 1; // after '['
const S_KEY_OR_CLOSE = 2; // after '{'
const S_KEY = 3; // after ',' in an object
const S_COLON = 4;
const S_COMMA_OR_CLOSE = 5;
const S_DONE = 6; // the root value is closed: only whitespace may follow

// A token that spans chunks.
const M_NONE = 0;
const M_STRING = 1;
const M_LITERAL = 2;

const KIND_OBJECT = 1;
const KIND_ARRAY = 2;

// What a container is, as far as the summary cares.
const R_OTHER = 0;
const R_ROOT = 1;
const R_CHANGES = 2; // resource_changes or resource_drift (which one: `section`)
const R_ENTRY = 3; // resource_changes[i] or resource_drift[i]
const R_CHANGE = 4; // resource_changes[i].change or resource_drift[i].change
const R_PICK = 5; // inside change.after or change.after_unknown, on a path a ValuePicker asked for
const R_OUTPUTS = 6; // output_changes
const R_OUTPUT = 7; // output_changes.<name>

// Keys the summary reads; each is a bit so duplicates can be refused.
const K_NONE = 0;
const K_FORMAT = 1;
const K_ENGINE = 2;
const K_ERRORED = 4;
const K_RESOURCE_CHANGES = 8;
const K_ADDRESS = 16;
const K_MODE = 32;
const K_CHANGE = 64;
const K_ACTIONS = 128;
const K_TYPE = 256;
const K_AFTER = 512;
const K_AFTER_UNKNOWN = 1024;
const K_PICK = 2048; // a picked value (never a key of KEYS_BY_ROLE)
const K_PREVIOUS = 4096;
const K_IMPORTING = 8192;
const K_OUTPUT_CHANGES = 16384;
const K_OUTPUT_ACTIONS = 32768;
const K_RESOURCE_DRIFT = 65536;

const KEYS_BY_ROLE: Record<number, ReadonlyMap<string, number>> = {
  [R_ROOT]: new Map([
    ['format_version', K_FORMAT],
    ['terraform_version', K_ENGINE],
    ['errored', K_ERRORED],
    ['resource_changes', K_RESOURCE_CHANGES],
    ['output_changes', K_OUTPUT_CHANGES],
    ['resource_drift', K_RESOURCE_DRIFT],
  ]),
  [R_ENTRY]: new Map([
    ['address', K_ADDRESS],
    ['previous_address', K_PREVIOUS],
    ['mode', K_MODE],
    ['type', K_TYPE],
    ['change', K_CHANGE],
  ]),
  [R_CHANGE]: new Map([
    ['actions', K_ACTIONS],
    ['after', K_AFTER],
    ['after_unknown', K_AFTER_UNKNOWN],
    ['importing', K_IMPORTING],
  ]),
  [R_OUTPUT]: new Map([['actions', K_OUTPUT_ACTIONS]]),
};
const KEY_NAMES: Record<number, string> = {
  [K_FORMAT]: 'format_version',
  [K_ENGINE]: 'terraform_version',
  [K_ERRORED]: 'errored',
  [K_RESOURCE_CHANGES]: 'resource_changes',
  [K_ADDRESS]: 'address',
  [K_MODE]: 'mode',
  [K_CHANGE]: 'change',
  [K_ACTIONS]: 'change.actions',
  [K_TYPE]: 'type',
  [K_AFTER]: 'change.after',
  [K_AFTER_UNKNOWN]: 'change.after_unknown',
  [K_PICK]: 'a picked value',
  [K_PREVIOUS]: 'previous_address',
  [K_IMPORTING]: 'change.importing',
  [K_OUTPUT_CHANGES]: 'output_changes',
  [K_OUTPUT_ACTIONS]: 'actions',
  [K_RESOURCE_DRIFT]: 'resource_drift',
};
/** Output names are keys too, and may be long. */
const MAX_OUTPUT_NAME_CHARS = 1024;
/** Longer keys cannot be one the summary reads, so they are not collected across chunks. */
const MAX_KEY_CHARS = 32;
/** Attribute names on a picked path may be longer. */
const MAX_PICK_KEY_CHARS = 256;
/** A picked value larger than this is recorded as too large (so a limit on it fails), never decoded. */
const MAX_PICK_BYTES = 64 * 1024;
export const PICK_TOO_LARGE = '<value too large to check>';

/** A compiled set of paths: the children by attribute name, and the full paths that end here. */
interface PickNode {
  children: Map<string, PickNode>;
  paths: string[];
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const IS_WHITESPACE = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) IS_WHITESPACE[c] = 1;
const IS_LITERAL = new Uint8Array(256);
for (const c of '0123456789+-.eEtrufalsn') IS_LITERAL[c.charCodeAt(0)] = 1;
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

export interface PlanMeta {
  formatVersion: string;
  engineVersion: string;
  errored: boolean;
}

/**
 * A push parser for one `show -json` document: feed it chunks, then call `end()`. It checks the JSON grammar
 * (nesting, separators, literals, string ends) and calls `onEntry` once per `resource_changes[]` element with
 * only that element's address, mode and change.actions.
 */
export class PlanJsonScanner {
  private readonly onEntry: (entry: RawResourceChange, index: number) => void;
  private base = 0; // file offset of the current chunk
  private state = S_VALUE;
  private mode = M_NONE;
  private depth = 0;
  private readonly kinds = new Uint8Array(MAX_DEPTH);
  private readonly roles = new Uint8Array(MAX_DEPTH);
  private readonly keys = new Uint32Array(MAX_DEPTH);
  private readonly seen = new Uint32Array(MAX_DEPTH); // keys of interest met so far, per object
  // picking planned values: the path node of each R_PICK container, and the node its current key leads to
  private readonly picker: ValuePicker | undefined;
  private readonly pickNodes: Array<PickNode | null> = [];
  private readonly pickChild: Array<PickNode | null> = [];
  private readonly compiled = new Map<string, PickNode | null>();
  private pendingPick: PickNode | null = null;
  private pickTarget = K_NONE; // K_AFTER or K_AFTER_UNKNOWN
  private captureNode: PickNode | null = null;
  private pickTooLarge = false;
  private keyLimit = MAX_KEY_CHARS;

  // a string in progress
  private escapeNext = false;
  private stringIsKey = false;
  private keyText: string | null = null; // collected key text, or null when the key is not of interest
  private tokenStart = 0; // file offset of the token in progress, for errors

  // a number or true/false/null in progress
  private literalText = '';

  // a value being materialised
  private capturing = false;
  private captureKey = K_NONE;
  private captureDepth = 0;
  private captureFrom = 0; // where the capture starts in the current chunk
  private captureParts: Buffer[] = [];
  private captureBytes = 0;
  private captureStart = 0; // file offset

  // what the summary needs
  private formatVersion: string | undefined;
  private engineVersion: string | undefined;
  private errored: boolean | undefined;
  private entryIndex = -1;
  private entry: RawResourceChange = {};
  /** The array the entries come from: resource changes, or objects changed outside of the engine. */
  private section: 'resource_changes' | 'resource_drift' = 'resource_changes';
  private readonly onDrift: ((entry: RawResourceChange, index: number) => void) | undefined;
  private readonly onOutput: ((name: string, actions: unknown) => void) | undefined;
  private outputName = '';
  private outputActions: unknown = undefined;

  constructor(
    onEntry: (entry: RawResourceChange, index: number) => void,
    opts: { picker?: ValuePicker | undefined; onOutput?: (name: string, actions: unknown) => void; onDrift?: (entry: RawResourceChange, index: number) => void } = {},
  ) {
    this.onEntry = onEntry;
    this.onDrift = opts.onDrift;
    this.picker = opts.picker;
    this.onOutput = opts.onOutput;
  }

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

  /** Finish the document and return what the summary needs besides its entries. */
  end(): PlanMeta {
    if (this.state !== S_DONE || this.mode !== M_NONE) {
      if (this.base === 0) throw new PlanJsonError('the plan JSON is empty', { byteOffset: 0 });
      const inside = this.mode === M_STRING ? ' inside a string' : '';
      throw new PlanJsonError(
        `the plan JSON ends early at byte ${this.base}${inside}: the file is truncated or not one JSON document`,
        { byteOffset: this.base },
      );
    }
    if (this.formatVersion === undefined) {
      throw new PlanJsonError('the plan JSON has no `format_version`: it is not `show -json` output of a plan');
    }
    if (this.engineVersion === undefined) {
      throw new PlanJsonError('the plan JSON has no `terraform_version`: it is not `show -json` output of a plan');
    }
    return { formatVersion: this.formatVersion, engineVersion: this.engineVersion, errored: this.errored ?? false };
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
      if (role === R_PICK) {
        this.pickNodes[d] = this.pendingPick;
        this.pickChild[d] = null;
      }
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

  /** Decide what a value inside a container the summary cares about is for; start capturing it if needed. */
  private roleOfValue(i: number, c: number, parentRole: number, key: number): number {
    switch (parentRole) {
      case R_ROOT:
        if (key === K_RESOURCE_CHANGES || key === K_RESOURCE_DRIFT) {
          this.section = key === K_RESOURCE_DRIFT ? 'resource_drift' : 'resource_changes';
          if (c !== 0x5b) this.fail(i, `\`${this.section}\` must be an array`, c);
          this.entryIndex = -1;
          return R_CHANGES;
        }
        if (key === K_OUTPUT_CHANGES) {
          if (c !== 0x7b) this.fail(i, '`output_changes` must be an object', c);
          return R_OUTPUTS;
        }
        if (key !== K_NONE) this.startCapture(i, key);
        return R_OTHER;
      case R_CHANGES:
        this.entryIndex++;
        if (c !== 0x7b) this.fail(i, `${this.section}[${this.entryIndex}] must be an object`, c);
        this.entry = {};
        return R_ENTRY;
      case R_ENTRY:
        if (key === K_CHANGE) {
          if (c !== 0x7b) this.fail(i, `${this.section}[${this.entryIndex}].change must be an object`, c);
          this.entry.change = {};
          return R_CHANGE;
        }
        if (key !== K_NONE) this.startCapture(i, key);
        return R_OTHER;
      case R_CHANGE:
        if (key === K_AFTER || key === K_AFTER_UNKNOWN) return this.startPick(i, c, key);
        // Only whether an import happens is read; the import id is a value and is skipped.
        if (key === K_IMPORTING) {
          if (c !== 0x6e /* null */) this.entry.change!.importing = true;
          return R_OTHER;
        }
        if (key !== K_NONE) this.startCapture(i, key);
        return R_OTHER;
      case R_OUTPUTS:
        if (c !== 0x7b) this.fail(i, `output_changes[${describeValue(this.outputName)}] must be an object`, c);
        this.outputActions = undefined;
        return R_OUTPUT;
      case R_OUTPUT:
        if (key !== K_NONE) this.startCapture(i, key);
        return R_OTHER;
      case R_PICK: {
        const parent = this.depth - 1;
        const node = this.kinds[parent] === KIND_ARRAY ? this.pickNodes[parent]! : this.pickChild[parent]!;
        return node === null ? R_OTHER : this.enterPick(i, c, node);
      }
      default:
        return R_OTHER;
    }
  }

  /** `change.after` or `change.after_unknown` begins: pick what the picker asks for about this resource. */
  private startPick(i: number, c: number, key: number): number {
    // Policy limits are about what the plan will do: nothing is picked from what drifted.
    if (this.picker === undefined || this.section === 'resource_drift') return R_OTHER;
    const { address, type } = this.entry;
    if (typeof address !== 'string' || typeof type !== 'string') {
      ((this.entry.picked ??= { after: {}, unknown: [] }) as PickedAfter).unseen = true;
      return R_OTHER;
    }
    const root = this.compilePaths(address, type);
    if (root === null) return R_OTHER;
    this.entry.picked ??= { after: {}, unknown: [] };
    this.pickTarget = key;
    return this.enterPick(i, c, root);
  }

  private compilePaths(address: string, type: string): PickNode | null {
    const paths = this.picker!.pathsFor(address, type);
    if (paths === null || paths.length === 0) return null;
    const cacheKey = paths.join('\0');
    let root = this.compiled.get(cacheKey);
    if (root === undefined) {
      root = { children: new Map(), paths: [] };
      for (const p of paths) {
        let node = root;
        for (const name of p.split('.')) {
          let next = node.children.get(name);
          if (next === undefined) node.children.set(name, (next = { children: new Map(), paths: [] }));
          node = next;
        }
        node.paths.push(p);
      }
      this.compiled.set(cacheKey, root);
    }
    return root;
  }

  /** A value on a picked path: walk into a container on the way, decode what a path ends at. */
  private enterPick(i: number, c: number, node: PickNode): number {
    if ((c === 0x7b || c === 0x5b) && node.paths.length === 0) {
      this.pendingPick = node;
      return R_PICK;
    }
    this.captureNode = node;
    this.startCapture(i, K_PICK);
    return R_OTHER;
  }

  /** Record a decoded value at `node` for every path at or below it. */
  private recordPick(node: PickNode, value: unknown): void {
    const picked = this.entry.picked as PickedAfter;
    if (this.pickTarget === K_AFTER_UNKNOWN) {
      if (value === true || (typeof value === 'object' && value !== null && JSON.stringify(value).includes('true'))) {
        for (const p of pathsBelow(node)) if (!picked.unknown.includes(p)) picked.unknown.push(p);
      }
      return;
    }
    for (const p of node.paths) {
      const list = (picked.after[p] ??= []);
      if (Array.isArray(value)) list.push(...value);
      else list.push(value);
    }
    if (node.children.size === 0 || typeof value !== 'object' || value === null) return;
    for (const element of Array.isArray(value) ? value : [value]) {
      if (typeof element !== 'object' || element === null || Array.isArray(element)) continue;
      for (const [name, child] of node.children) {
        if (Object.hasOwn(element, name)) this.recordPick(child, (element as Record<string, unknown>)[name]);
      }
    }
  }

  private close(chunk: Buffer, i: number): number {
    const d = --this.depth;
    if (this.roles[d] === R_ENTRY) {
      if (this.section === 'resource_drift') this.onDrift?.(this.entry, this.entryIndex);
      else this.onEntry(this.entry, this.entryIndex);
    }
    if (this.roles[d] === R_OUTPUT) this.onOutput?.(this.outputName, this.outputActions);
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
    this.keyLimit = role === R_PICK ? MAX_PICK_KEY_CHARS : role === R_OUTPUTS ? MAX_OUTPUT_NAME_CHARS : MAX_KEY_CHARS;
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
    const picking = this.roles[d] === R_PICK;
    if (picking) this.pickChild[d] = null;
    if (this.roles[d] === R_OUTPUTS) this.outputName = `(a name longer than ${MAX_OUTPUT_NAME_CHARS} bytes)`;
    if (this.keyText === null) return;
    let key = this.keyText + chunk.toString('latin1', from, Math.min(to, from + this.keyLimit + 1));
    this.keyText = null;
    if (key.length > this.keyLimit) return;
    if (this.roles[d] === R_OUTPUTS) {
      // an output name is shown to the approver: decode it as the UTF-8 it is, escapes included
      const utf8 = Buffer.from(key, 'latin1').toString('utf8');
      this.outputName = utf8.includes('\\') ? this.decodeKey(utf8, this.tokenStart) : utf8;
      return;
    }
    if (key.includes('\\')) key = this.decodeKey(key, this.tokenStart);
    if (picking) {
      // latin1 is exact for the ASCII attribute names a path can hold; anything else matches nothing.
      this.pickChild[d] = this.pickNodes[d]!.children.get(key) ?? null;
      return;
    }
    const id = KEYS_BY_ROLE[this.roles[d]!]?.get(key) ?? K_NONE;
    if (id === K_NONE) return;
    if ((this.seen[d]! & id) !== 0) {
      this.fail(to, `the key "${key}" appears twice${this.roles[d] === R_ROOT ? '' : ` in ${this.section}[${this.entryIndex}]`}`);
    }
    this.seen[d]! |= id;
    this.keys[d] = id;
  }

  /** A key with escapes (`"addr\u0065ss"`) means what JSON.parse says it means. */
  private decodeKey(key: string, offset: number): string {
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

  private startCapture(i: number, key: number): void {
    this.capturing = true;
    this.captureKey = key;
    this.captureDepth = this.depth;
    this.captureFrom = i;
    this.captureParts = [];
    this.captureBytes = 0;
    this.captureStart = this.base + i;
  }

  private keepCapturedPart(chunk: Buffer, end: number): void {
    if (this.captureKey === K_PICK) {
      this.captureBytes += end - this.captureFrom;
      if (this.captureBytes > MAX_PICK_BYTES) this.pickTooLarge = true;
      if (this.pickTooLarge) this.captureParts = [];
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
    if (this.captureKey === K_PICK && (this.pickTooLarge || this.captureBytes + (end - this.captureFrom) > MAX_PICK_BYTES)) {
      this.pickTooLarge = false;
      this.captureParts = [];
      this.recordPick(this.captureNode!, PICK_TOO_LARGE);
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
    switch (this.captureKey) {
      case K_FORMAT:
        if (typeof value !== 'string') this.failAt(this.captureStart, `format_version must be a string, got ${describeValue(value)}`);
        if (value.split('.')[0] !== '1') {
          throw new PlanJsonError(
            `unsupported plan JSON format_version ${describeValue(value)}: Airlock reads format 1.x`,
            { byteOffset: this.captureStart, hint: 'Use a Terraform or OpenTofu release whose `show -json` writes format 1.x.' },
          );
        }
        this.formatVersion = value;
        break;
      case K_ENGINE:
        if (typeof value !== 'string') this.failAt(this.captureStart, `terraform_version must be a string, got ${describeValue(value)}`);
        this.engineVersion = value;
        break;
      case K_ERRORED:
        if (typeof value !== 'boolean') this.failAt(this.captureStart, `errored must be true or false, got ${describeValue(value)}`);
        this.errored = value;
        break;
      case K_ADDRESS:
        this.entry.address = value;
        break;
      case K_MODE:
        this.entry.mode = value;
        break;
      case K_ACTIONS:
        this.entry.change = { ...this.entry.change, actions: value };
        break;
      case K_PREVIOUS:
        this.entry.previous_address = value;
        break;
      case K_OUTPUT_ACTIONS:
        this.outputActions = value;
        break;
      case K_TYPE:
        this.entry.type = value;
        break;
      case K_PICK:
        this.recordPick(this.captureNode!, value);
        break;
    }
  }

  private whereCaptured(): string {
    const name = KEY_NAMES[this.captureKey] ?? 'a value';
    if (this.captureKey === K_OUTPUT_ACTIONS) return `output_changes[${describeValue(this.outputName)}].actions`;
    return this.captureKey >= K_ADDRESS && this.captureKey !== K_RESOURCE_DRIFT ? `${this.section}[${this.entryIndex}].${name}` : name;
  }

  private fail(i: number, what: string, c?: number, cause?: unknown): never {
    const found = c === undefined ? '' : `, found ${describeValue(String.fromCharCode(c))}`;
    return this.failAt(this.base + i, `${what}${found}`, cause);
  }

  private failAt(offset: number, what: string, cause?: unknown): never {
    throw new PlanJsonError(`invalid plan JSON at byte ${offset}: ${what}`, { byteOffset: offset, cause });
  }
}

function pathsBelow(node: PickNode): string[] {
  return [...node.paths, ...[...node.children.values()].flatMap(pathsBelow)];
}

/** How many backslashes end `chunk[floor, end)`. */
function trailingBackslashes(chunk: Buffer, end: number, floor: number): number {
  let k = end;
  while (k > floor && chunk[k - 1] === BACKSLASH) k--;
  return end - k;
}
