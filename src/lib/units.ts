// Human units in the runner config: durations ("15m", "1h30m") and sizes ("50MiB").

// Largest first: a compound duration names each unit at most once, in this order ("1d12h", "1h30m", "2m30s").
const DURATION_UNITS: Array<[unit: string, ms: number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
  ['ms', 1],
];
const DURATION_PART = /(\d+)(ms|s|m|h|d)/y;
const SIZE = /^(\d+)(B|KB|KiB|MB|MiB|GB|GiB)$/;
const SIZE_BYTES: Record<string, number> = { B: 1, KB: 1e3, KiB: 1024, MB: 1e6, MiB: 1024 ** 2, GB: 1e9, GiB: 1024 ** 3 };

/** How a valid duration reads, for error messages. */
export const DURATION_FORM = 'whole numbers with units d, h, m, s or ms, largest first; compound durations like "1h30m" are fine';

/** Parse "90s", "15m", "1h30m" into milliseconds; null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  const s = text.trim();
  if (s === '') return null;
  DURATION_PART.lastIndex = 0;
  let total = 0;
  let lastUnit = -1;
  while (DURATION_PART.lastIndex < s.length) {
    const m = DURATION_PART.exec(s);
    if (!m) return null;
    const unit = DURATION_UNITS.findIndex(([u]) => u === m[2]);
    if (unit <= lastUnit) return null;
    lastUnit = unit;
    total += Number(m[1]) * DURATION_UNITS[unit]![1];
  }
  return Number.isSafeInteger(total) ? total : null;
}

/** Parse "50MiB", "5MB", "1024B" into bytes; null when the text is not a size. */
export function parseSize(text: string): number | null {
  const m = SIZE.exec(text.trim());
  return m ? Number(m[1]) * SIZE_BYTES[m[2]!]! : null;
}
