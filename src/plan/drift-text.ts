// How drift is shown: the objects changed or deleted outside of the engine, apart from what the plan's own
// changes do (which re-converge them). Pure; addresses only, made visible by the caller's `show`.
import type { DriftSummary } from './summary.ts';

const VERB = { update: 'changed', delete: 'deleted' } as const;
const MARK = { update: '~', delete: '-' } as const;

/** "2 objects changed outside of Airlock (1 changed, 1 deleted)". */
export function driftHeadline(drift: DriftSummary): string {
  const changed = drift.changes.filter((c) => c.action === 'update').length;
  const listedDeleted = drift.listed - changed;
  const counts = drift.total === drift.listed ? ` (${changed} changed, ${listedDeleted} deleted)` : '';
  return `Drift: ${drift.total} object${drift.total === 1 ? '' : 's'} changed outside of Airlock${counts}`;
}

/** The headline, then up to `max` drifted addresses, then how many more. */
export function driftLines(drift: DriftSummary, show: (s: string, max: number) => string, opts: { max: number; maxAddress: number; indent?: string }): string[] {
  const indent = opts.indent ?? '  ';
  const lines = [driftHeadline(drift)];
  for (const c of drift.changes.slice(0, opts.max)) lines.push(`${indent}${MARK[c.action]} ${show(c.address, opts.maxAddress)} (${VERB[c.action]})`);
  const more = drift.total - Math.min(opts.max, drift.changes.length);
  if (more > 0) lines.push(`${indent}…and ${more} more drifted (airlock show)`);
  return lines;
}
