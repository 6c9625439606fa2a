// The fingerprint of a drift: which objects changed outside of the engine, how, and which of their
// attributes (names and paths, never values), plus what the plan itself would change (addresses and
// actions). Two checks that find the same objects drifted in the same attributes have the same fingerprint
// even when the drifted values differ, so the approvers are not told twice (jobs/drift-notice.ts). Pure.
import { createHash } from 'node:crypto';
import type { PlanSummary } from './summary.ts';
import { at, leafPaths, markedAt, pathText, type Json, type Path } from './value-diff.ts';

/** One `resource_drift[]` object: its address, how it drifted, and the paths of the attributes that differ. */
export interface DriftedObject {
  address: string;
  action: 'update' | 'delete';
  /** Sorted; a sensitive subtree is one path (its keys are not walked). Empty for a deleted object. */
  paths: string[];
}

const MAX_OBJECTS = 100_000;
/** Objects whose attribute paths are compared (about 0.35 ms each with 20 attributes); the rest by address. */
const MAX_OBJECTS_WITH_PATHS = 2_000;
const MAX_PATHS = 500;
const NOT_READ = '(attributes not read)';

/**
 * The drifted objects of a parsed `show -json` document, or null when it has no readable `resource_drift`
 * (then the fingerprint falls back to addresses and actions). Values are compared, never kept.
 */
export function driftedObjectsOf(plan: unknown): DriftedObject[] | null {
  const entries = isObject(plan) ? plan['resource_drift'] : undefined;
  if (entries === undefined) return [];
  if (!Array.isArray(entries)) return null;
  const objects: DriftedObject[] = [];
  for (const [i, entry] of entries.slice(0, MAX_OBJECTS).entries()) {
    if (!isObject(entry) || typeof entry['address'] !== 'string' || !isObject(entry['change'])) return null;
    const change = entry['change'];
    const actions = change['actions'];
    const action = Array.isArray(actions) && actions.length === 1 && (actions[0] === 'update' || actions[0] === 'delete') ? actions[0] : null;
    if (action === null) continue;
    const paths = action === 'delete' ? [] : i < MAX_OBJECTS_WITH_PATHS ? changedPaths(change) : [NOT_READ];
    objects.push({ address: entry['address'], action, paths });
  }
  return objects.sort((a, b) => compare(a.address, b.address));
}

/** The paths whose values differ between `before` and `after`; a sensitive subtree counts as one path. */
function changedPaths(change: Record<string, unknown>): string[] {
  const before = change['before'] as Json | undefined;
  const after = change['after'] as Json | undefined;
  const stop = (p: Path) => markedAt(change['before_sensitive'] as Json | undefined, p) || markedAt(change['after_sensitive'] as Json | undefined, p);
  const paths = new Map<string, Path>();
  for (const p of [...leafPaths(before, stop), ...leafPaths(after, stop)]) paths.set(pathText(p), p);
  const differ = [...paths].filter(([, p]) => JSON.stringify(at(before, p)) !== JSON.stringify(at(after, p))).map(([text]) => text);
  const sorted = differ.sort(compare);
  return sorted.length > MAX_PATHS ? [...sorted.slice(0, MAX_PATHS), `(${sorted.length - MAX_PATHS} more)`] : sorted;
}

/** sha256 (hex) over the drifted objects and the plan's own changes, in a fixed order; never a value. */
export function driftFingerprint(summary: PlanSummary, objects: DriftedObject[] | null): string {
  const lines: string[] = [];
  if (objects !== null) {
    for (const o of objects) lines.push(['drift', o.action, o.address, ...o.paths].join('\t'));
  } else {
    // The document was too large to read for attribute paths: addresses and actions only, said so.
    for (const c of [...(summary.drift?.changes ?? [])].sort((a, b) => compare(a.address, b.address))) lines.push(['drift', c.action, c.address, NOT_READ].join('\t'));
  }
  lines.push(`drift total\t${summary.drift?.total ?? 0}`);
  const changes = summary.changes.map((c) => `change\t${c.action}\t${c.address}`).sort(compare);
  lines.push(...changes, `changes total\t${summary.total}`);
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
