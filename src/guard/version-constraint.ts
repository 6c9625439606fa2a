// Terraform/OpenTofu version constraints ("~> 5.0", ">= 1.2, < 2.0, != 1.3.1") as intervals, so the guard
// can tell whether everything a pull request allows lies inside what the runner config allows. Pure.

export type Version = readonly [number, number, number];

interface Bound {
  v: Version;
  inclusive: boolean;
}

/** The versions a constraint admits: one interval with some points taken out. */
export interface VersionRange {
  lower: Bound | null;
  upper: Bound | null;
  excluded: Version[];
}

export const ANY_VERSION: VersionRange = Object.freeze({ lower: null, upper: null, excluded: [] });

const CONDITION = /^(=|!=|>=|<=|>|<|~>)?\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/;

/** Parse a constraint string; throws with a message naming the bad condition. Pre-releases are refused. */
export function parseConstraint(text: string): VersionRange {
  let range: VersionRange = ANY_VERSION;
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw new Error(`${JSON.stringify(text)} is not a version constraint`);
  for (const part of parts) {
    const m = CONDITION.exec(part);
    if (m === null) throw new Error(`${JSON.stringify(part)} is not a version condition like "~> 5.0" (pre-release versions are not supported)`);
    const op = m[1] ?? '=';
    const segments = [m[2], m[3], m[4]].filter((s) => s !== undefined).length;
    const v: Version = [Number(m[2]), Number(m[3] ?? 0), Number(m[4] ?? 0)];
    range = intersect(range, conditionRange(op, v, segments));
  }
  return range;
}

function conditionRange(op: string, v: Version, segments: number): VersionRange {
  switch (op) {
    case '=':
      return { lower: { v, inclusive: true }, upper: { v, inclusive: true }, excluded: [] };
    case '!=':
      return { lower: null, upper: null, excluded: [v] };
    case '>=':
      return { lower: { v, inclusive: true }, upper: null, excluded: [] };
    case '>':
      return { lower: { v, inclusive: false }, upper: null, excluded: [] };
    case '<=':
      return { lower: null, upper: { v, inclusive: true }, excluded: [] };
    case '<':
      return { lower: null, upper: { v, inclusive: false }, excluded: [] };
    default: {
      // "~>": only the rightmost given segment may grow. "~> 1" names the major, so it is ">= 1.0.0".
      if (segments === 1) return { lower: { v, inclusive: true }, upper: null, excluded: [] };
      const upper: Version = segments === 2 ? [v[0] + 1, 0, 0] : [v[0], v[1] + 1, 0];
      return { lower: { v, inclusive: true }, upper: { v: upper, inclusive: false }, excluded: [] };
    }
  }
}

export function compareVersions(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** The versions both ranges admit. */
export function intersect(a: VersionRange, b: VersionRange): VersionRange {
  return {
    lower: tighter(a.lower, b.lower, 1),
    upper: tighter(a.upper, b.upper, -1),
    excluded: [...a.excluded, ...b.excluded],
  };
}

function tighter(a: Bound | null, b: Bound | null, direction: 1 | -1): Bound | null {
  if (a === null) return b;
  if (b === null) return a;
  const c = compareVersions(a.v, b.v) * direction;
  if (c !== 0) return c > 0 ? a : b;
  return a.inclusive ? b : a;
}

function admits(range: VersionRange, v: Version): boolean {
  if (range.lower && (range.lower.inclusive ? compareVersions(v, range.lower.v) < 0 : compareVersions(v, range.lower.v) <= 0)) return false;
  if (range.upper && (range.upper.inclusive ? compareVersions(v, range.upper.v) > 0 : compareVersions(v, range.upper.v) >= 0)) return false;
  return !range.excluded.some((x) => compareVersions(x, v) === 0);
}

/** Whether no version satisfies the range (so the engine would fail to install anything). */
export function isEmptyRange(r: VersionRange): boolean {
  if (!r.lower || !r.upper) return false;
  const c = compareVersions(r.lower.v, r.upper.v);
  if (c > 0) return true;
  if (c === 0) return !(r.lower.inclusive && r.upper.inclusive) || r.excluded.some((x) => compareVersions(x, r.lower!.v) === 0);
  return false;
}

/** Whether every version `inner` admits is admitted by `outer` (an empty `inner` is inside anything). */
export function isWithin(inner: VersionRange, outer: VersionRange): boolean {
  if (isEmptyRange(inner)) return true;
  if (outer.lower) {
    if (!inner.lower) return false;
    const c = compareVersions(inner.lower.v, outer.lower.v);
    if (c < 0 || (c === 0 && inner.lower.inclusive && !outer.lower.inclusive)) return false;
  }
  if (outer.upper) {
    if (!inner.upper) return false;
    const c = compareVersions(inner.upper.v, outer.upper.v);
    if (c > 0 || (c === 0 && inner.upper.inclusive && !outer.upper.inclusive)) return false;
  }
  // A version the runner excludes must be excluded (or out of range) for the pull request too.
  return outer.excluded.every((x) => !admits(inner, x));
}
