// The plan JSON scanner: json-scanner.ts walks the bytes; this class knows which few values of a
// `show -json` document the summary reads, refuses duplicates of them, and hands on each
// `resource_changes[]` element and `output_changes` member as it closes.
import type { RawResourceChange } from './summary.ts';
import { PlanJsonError } from './errors.ts';
import { describeValue } from './summary.ts';
import { JsonScanner } from './json-scanner.ts';
import {
  K_ACTIONS, K_ADDRESS, K_AFTER, K_AFTER_UNKNOWN, K_CHANGE, K_ENGINE, K_ERRORED, K_FORMAT, K_IMPORTING, K_MODE, K_NONE, K_OUTPUT_ACTIONS, K_OUTPUT_CHANGES,
  K_PICK, K_PREVIOUS, K_RESOURCE_CHANGES, K_RESOURCE_DRIFT, K_TYPE, KEY_NAMES, KEYS_BY_ROLE, KIND_ARRAY, MAX_KEY_CHARS, MAX_OUTPUT_NAME_CHARS, R_CHANGE, R_CHANGES, R_ENTRY,
  R_OTHER, R_OUTPUT, R_OUTPUTS, R_PICK, R_ROOT,
} from './plan-json-keys.ts';
import { MAX_PICK_KEY_CHARS, PICK_TOO_LARGE, PickPaths, recordPick, type PickedAfter, type PickNode, type ValuePicker } from './plan-json-picker.ts';

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
export class PlanJsonScanner extends JsonScanner {
  private readonly onEntry: (entry: RawResourceChange, index: number) => void;
  // picking planned values: the path node of each R_PICK container, and the node its current key leads to
  private readonly pickPaths: PickPaths | undefined;
  private readonly pickNodes: Array<PickNode | null> = [];
  private readonly pickChild: Array<PickNode | null> = [];
  private pendingPick: PickNode | null = null;
  private pickTarget = K_NONE; // K_AFTER or K_AFTER_UNKNOWN
  private captureNode: PickNode | null = null;

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

  constructor(onEntry: (entry: RawResourceChange, index: number) => void, opts: { picker?: ValuePicker | undefined; onOutput?: (name: string, actions: unknown) => void; onDrift?: (entry: RawResourceChange, index: number) => void } = {}) {
    super();
    this.onEntry = onEntry;
    this.onDrift = opts.onDrift;
    this.pickPaths = opts.picker ? new PickPaths(opts.picker) : undefined;
    this.onOutput = opts.onOutput;
  }

  /** Finish the document and return what the summary needs besides its entries. */
  end(): PlanMeta {
    this.endDocument();
    if (this.formatVersion === undefined) {
      throw new PlanJsonError('the plan JSON has no `format_version`: it is not `show -json` output of a plan');
    }
    if (this.engineVersion === undefined) {
      throw new PlanJsonError('the plan JSON has no `terraform_version`: it is not `show -json` output of a plan');
    }
    return { formatVersion: this.formatVersion, engineVersion: this.engineVersion, errored: this.errored ?? false };
  }

  /** Decide what a value inside a container the summary cares about is for; start capturing it if needed. */
  protected roleOfValue(i: number, c: number, parentRole: number, key: number): number {
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
    if (this.pickPaths === undefined || this.section === 'resource_drift') return R_OTHER;
    const { address, type } = this.entry;
    if (typeof address !== 'string' || typeof type !== 'string') {
      ((this.entry.picked ??= { after: {}, unknown: [] }) as PickedAfter).unseen = true;
      return R_OTHER;
    }
    const root = this.pickPaths!.compile(address, type);
    if (root === null) return R_OTHER;
    this.entry.picked ??= { after: {}, unknown: [] };
    this.pickTarget = key;
    return this.enterPick(i, c, root);
  }

  /** A value on a picked path: walk into a container on the way, decode what a path ends at. */
  private enterPick(i: number, c: number, node: PickNode): number {
    if ((c === 0x7b || c === 0x5b) && node.paths.length === 0) {
      this.pendingPick = node;
      return R_PICK;
    }
    this.captureNode = node;
    this.startCapture(i, K_PICK, true);
    return R_OTHER;
  }

  protected containerOpened(d: number, role: number): void {
    if (role === R_PICK) {
      this.pickNodes[d] = this.pendingPick;
      this.pickChild[d] = null;
    }
  }

  protected containerClosed(d: number): void {
    if (this.roles[d] === R_ENTRY) {
      if (this.section === 'resource_drift') this.onDrift?.(this.entry, this.entryIndex);
      else this.onEntry(this.entry, this.entryIndex);
    }
    if (this.roles[d] === R_OUTPUT) this.onOutput?.(this.outputName, this.outputActions);
  }

  protected keyLimitFor(role: number): number {
    return role === R_PICK ? MAX_PICK_KEY_CHARS : role === R_OUTPUTS ? MAX_OUTPUT_NAME_CHARS : MAX_KEY_CHARS;
  }

  protected onKey(d: number, text: string | null, to: number): void {
    const role = this.roles[d]!;
    const picking = role === R_PICK;
    if (picking) this.pickChild[d] = null;
    if (role === R_OUTPUTS) this.outputName = `(a name longer than ${MAX_OUTPUT_NAME_CHARS} bytes)`;
    if (text === null) return;
    let key = text;
    if (role === R_OUTPUTS) {
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
    const id = KEYS_BY_ROLE[role]?.get(key) ?? K_NONE;
    if (id === K_NONE) return;
    if ((this.seen[d]! & id) !== 0) {
      this.fail(to, `the key "${key}" appears twice${role === R_ROOT ? '' : ` in ${this.section}[${this.entryIndex}]`}`);
    }
    this.seen[d]! |= id;
    this.keys[d] = id;
  }

  protected onCaptured(key: number, value: unknown, tooLarge: boolean): void {
    if (tooLarge) {
      this.recordPicked(PICK_TOO_LARGE);
      return;
    }
    switch (key) {
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
        this.recordPicked(value);
        break;
    }
  }

  private recordPicked(value: unknown): void {
    recordPick(this.entry.picked as PickedAfter, this.pickTarget === K_AFTER_UNKNOWN, this.captureNode!, value);
  }

  protected whereCaptured(): string {
    const name = KEY_NAMES[this.captureKey] ?? 'a value';
    if (this.captureKey === K_OUTPUT_ACTIONS) return `output_changes[${describeValue(this.outputName)}].actions`;
    return this.captureKey >= K_ADDRESS && this.captureKey !== K_RESOURCE_DRIFT ? `${this.section}[${this.entryIndex}].${name}` : name;
  }

}
