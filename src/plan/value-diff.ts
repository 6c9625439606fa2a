// What a plan changes, attribute by attribute, for the human who approves it: `~ terraform_data.vm`
// becomes `input.memory: 2048 -> 8192`. Terraform's own redaction comes first: a value marked in
// `before_sensitive`/`after_sensitive` is never read into the diff, only the words "(sensitive)". Every
// value that is shown is then scrubbed of every secret the runner knows, and cut after scrubbing.
//
// Unlike the summary (read-plan-json.ts streams files of any size and decodes no value), the diff parses the
// plan JSON whole, so it is only made for files up to `maxFileBytes`; a larger plan says so instead.
import { open } from 'node:fs/promises';
import { scrubber } from '../log/scrub.ts';
import { actionOf } from './summary.ts';

export const SENSITIVE = '(sensitive)';
export const UNKNOWN = '(known after apply)';
export const ABSENT = '(none)';

/** One changed attribute; `before`/`after` are display strings (JSON, scrubbed, cut) or the markers above. */
export interface AttributeChange {
  path: string;
  before: string;
  after: string;
}

export interface ChangeValues {
  address: string;
  attributes: AttributeChange[];
  /** Changed attributes left out by `maxAttributes`. */
  more: number;
}

export interface ValueDiffs {
  changes: ChangeValues[];
  /** Set when no values could be shown at all (the file is too large, or not a plan). */
  omitted?: string;
}

export interface ValueDiffLimits {
  maxFileBytes: number;
  maxChanges: number;
  maxAttributes: number;
  maxValueChars: number;
}

export const DEFAULT_VALUE_LIMITS: ValueDiffLimits = { maxFileBytes: 16 * 1024 * 1024, maxChanges: 500, maxAttributes: 40, maxValueChars: 200 };

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Path = Array<string | number>;

/**
 * The attribute-level diff of a `show -json` file, with sensitive values redacted and secrets scrubbed.
 * `onDocument` gets the parsed document too (the drift fingerprint reads attribute paths from it).
 */
export async function readValueDiffs(file: string, limits: ValueDiffLimits = DEFAULT_VALUE_LIMITS, onDocument?: (plan: unknown) => void): Promise<ValueDiffs> {
  const handle = await open(file, 'r');
  let text: string;
  try {
    const size = (await handle.stat()).size;
    if (size > limits.maxFileBytes) {
      return { changes: [], omitted: `the plan JSON is ${mib(size)} MiB, over the ${mib(limits.maxFileBytes)} MiB up to which values are shown; run \`terraform show\` on the runner host to see them` };
    }
    text = await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
  let plan: unknown;
  try {
    plan = JSON.parse(text);
  } catch {
    return { changes: [], omitted: 'the plan JSON could not be parsed for values' };
  }
  onDocument?.(plan);
  return valueDiffsOf(plan, limits);
}

/** `read` the plan JSON file (the summary), then its values: the file is read for values only if `read` succeeded. */
export async function withValueDiffs<T>(file: string, read: () => Promise<T>, onDocument?: (plan: unknown) => void): Promise<{ result: T; values: ValueDiffs }> {
  const result = await read();
  return { result, values: await readValueDiffs(file, DEFAULT_VALUE_LIMITS, onDocument) };
}

/** Pure: the diff of a parsed plan document. */
export function valueDiffsOf(plan: unknown, limits: ValueDiffLimits = DEFAULT_VALUE_LIMITS): ValueDiffs {
  const changes: ChangeValues[] = [];
  const doc = isObject(plan) ? plan : {};
  const entries = Array.isArray(doc['resource_changes']) ? doc['resource_changes'] : [];
  for (const entry of entries) {
    if (changes.length >= limits.maxChanges) break;
    if (!isObject(entry) || typeof entry['address'] !== 'string' || !isObject(entry['change'])) continue;
    const values = changeValues(entry['address'], entry['change'], limits);
    if (values) changes.push(values);
  }
  const outputs = isObject(doc['output_changes']) ? doc['output_changes'] : {};
  for (const [name, change] of Object.entries(outputs)) {
    if (changes.length >= limits.maxChanges) break;
    if (!isObject(change)) continue;
    const values = changeValues(`output.${name}`, change, limits);
    if (values) changes.push(values);
  }
  return { changes };
}

function changeValues(address: string, change: Record<string, unknown>, limits: ValueDiffLimits): ChangeValues | null {
  let action: string;
  try {
    action = actionOf(change['actions']);
  } catch {
    return null;
  }
  if (action === 'noop' || action === 'read') return null;
  const before = { value: change['before'] as Json | undefined, sensitive: change['before_sensitive'] as Json | undefined };
  const after = { value: change['after'] as Json | undefined, sensitive: change['after_sensitive'] as Json | undefined, unknown: change['after_unknown'] as Json | undefined };
  const paths = new Map<string, Path>();
  const stop = (p: Path) => markedAt(before.sensitive, p) || markedAt(after.sensitive, p) || markedAt(after.unknown, p);
  for (const p of [...leafPaths(before.value, stop), ...leafPaths(after.value, stop), ...trueLeafPaths(after.unknown)]) paths.set(pathText(p), p);
  const attributes: AttributeChange[] = [];
  let more = 0;
  for (const [text, p] of [...paths].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const b = shown(before.value, before.sensitive, undefined, p, limits);
    const a = shown(after.value, after.sensitive, after.unknown, p, limits);
    const same = b.raw === a.raw && b.text === a.text;
    if (same) continue;
    if (attributes.length >= limits.maxAttributes) {
      more += 1;
      continue;
    }
    attributes.push({ path: text, before: b.text, after: a.text });
  }
  return attributes.length > 0 || more > 0 ? { address, attributes, more } : null;
}

/** A side of a change at `path`: the display text, and the raw JSON (for comparison only, never shown). */
function shown(value: Json | undefined, sensitive: Json | undefined, unknown: Json | undefined, path: Path, limits: ValueDiffLimits): { text: string; raw: string } {
  const raw = JSON.stringify(at(value, path)) ?? 'undefined';
  if (markedAt(sensitive, path)) return { text: SENSITIVE, raw };
  if (markedAt(unknown, path)) return { text: UNKNOWN, raw: UNKNOWN };
  const v = at(value, path);
  if (v === undefined || v === null) return { text: ABSENT, raw };
  return { text: cut(scrubber.scrubString(JSON.stringify(v)), limits.maxValueChars), raw };
}

/**
 * Every leaf (a scalar, null, or an empty list or object) below `value`, as a path. Nothing below a path
 * that `stop` marks is walked: a sensitive map is one entry, so not even its keys are shown.
 */
export function leafPaths(value: Json | undefined, stop: (p: Path) => boolean, prefix: Path = []): Path[] {
  if (value === undefined || (value === null && prefix.length === 0)) return [];
  if (stop(prefix)) return [prefix];
  if (Array.isArray(value) && value.length > 0) return value.flatMap((v, i) => leafPaths(v, stop, [...prefix, i]));
  if (isObject(value) && Object.keys(value).length > 0) return Object.entries(value).flatMap(([k, v]) => leafPaths(v as Json, stop, [...prefix, k]));
  return [prefix];
}

/** Paths at which a mask (`after_unknown`) says `true`. */
function trueLeafPaths(mask: Json | undefined, prefix: Path = []): Path[] {
  if (mask === true) return [prefix];
  if (Array.isArray(mask)) return mask.flatMap((m, i) => trueLeafPaths(m, [...prefix, i]));
  if (isObject(mask)) return Object.entries(mask).flatMap(([k, m]) => trueLeafPaths(m as Json, [...prefix, k]));
  return [];
}

/** Whether a mask marks `path` or anything above it (`true` for a whole object marks all of it). */
export function markedAt(mask: Json | undefined, path: Path): boolean {
  let m: Json | undefined = mask;
  for (let i = 0; ; i++) {
    if (m === true) return true;
    if (i === path.length || m === null || typeof m !== 'object') return false;
    m = (m as Record<string, Json>)[path[i] as string];
  }
}

export function at(value: Json | undefined, path: Path): Json | undefined {
  let v: Json | undefined = value;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, Json>)[key as string];
  }
  return v;
}

export function pathText(path: Path): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? `${i === 0 ? '' : '.'}${k}` : `[${JSON.stringify(k)}]`)).join('') || '(value)';
}

function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  // Already scrubbed; a cut can still leave the start of a secret at its end, which scrubCut replaces (and
  // the marker may make the text longer again: cut shorter until it fits).
  for (let n = max - 1; n > 0; ) {
    const out = scrubber.scrubCut(s.slice(0, n), { after: true });
    if (out.length <= max - 1) return `${out}…`;
    n -= out.length - (max - 1);
  }
  return '…';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}
