// Policy limits read a few planned values (`change.after`): the picker says which paths, per resource, and
// this file compiles those paths into a tree the scanner walks, and records what it decodes on them.

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

/** Attribute names on a picked path may be longer. */
export const MAX_PICK_KEY_CHARS = 256;
/** A picked value larger than this is recorded as too large (so a limit on it fails), never decoded. */
export const MAX_PICK_BYTES = 64 * 1024;
export const PICK_TOO_LARGE = '<value too large to check>';

/** A compiled set of paths: the children by attribute name, and the full paths that end here. */
export interface PickNode {
  children: Map<string, PickNode>;
  paths: string[];
}

/** The picker's paths for one resource, compiled once per distinct set of paths. */
export class PickPaths {
  private readonly compiled = new Map<string, PickNode | null>();
  constructor(private readonly picker: ValuePicker) {}

  /** The root of the paths to pick in this resource's values, or null when none are wanted. */
  compile(address: string, type: string): PickNode | null {
    const paths = this.picker.pathsFor(address, type);
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
}

/** Record a decoded value at `node` for every path at or below it (`unknown`: from after_unknown). */
export function recordPick(picked: PickedAfter, unknown: boolean, node: PickNode, value: unknown): void {
  if (unknown) {
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
      if (Object.hasOwn(element, name)) recordPick(picked, false, child, (element as Record<string, unknown>)[name]);
    }
  }
}

function pathsBelow(node: PickNode): string[] {
  return [...node.paths, ...[...node.children.values()].flatMap(pathsBelow)];
}
