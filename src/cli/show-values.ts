// The parts of `airlock show` that live on the runner host, not in Redis: the attribute-level diff from the
// plan view (terraform's own redaction of sensitive values, then the scrubber, at plan time) and the apply's
// own output (scrubbed, kept after the job directory is gone). Scrubbed again here, and made visible.
import { readPlanView } from '../approve/plan-view.ts';
import { scrubber } from '../log/scrub.ts';
import { visibleText } from '../lib/untrusted-text.ts';
import type { ValueDiffs } from '../plan/value-diff.ts';
import { readApplyOutput } from '../runner/kept-output.ts';
import type { RunnerPaths } from '../run/paths.ts';

const MAX_OUTPUT_LINES = 40;

/** The diff as indented lines under a heading; nothing when there is no diff to show. */
export function renderValueLines(values: ValueDiffs | undefined): string[] {
  if (!values) return [];
  const lines = ['  values (sensitive values hidden by the engine, known secrets scrubbed):'];
  if (values.omitted) lines.push(`    not shown: ${visibleText(values.omitted, 300)}`);
  for (const change of values.changes) {
    lines.push(`    ${visibleText(change.address, 300)}`);
    for (const a of change.attributes) lines.push(`      ${visibleText(scrubber.scrubString(`${a.path}: ${a.before} -> ${a.after}`), 600)}`);
    if (change.more > 0) lines.push(`      …and ${change.more} more changed attribute${change.more === 1 ? '' : 's'}`);
  }
  if (values.changes.length === 0 && !values.omitted) lines.push('    (no attribute values change)');
  return lines;
}

/** What `show` adds from this host: the values diff (while the plan view exists) and the apply output. */
export async function hostDetailLines(paths: Pick<RunnerPaths, 'job'>, runId: string): Promise<string[]> {
  const view = await readPlanView(paths.job(runId).planView, runId).catch(() => null);
  const lines = renderValueLines(view?.values);
  const output = await readApplyOutput(paths, runId).catch(() => null);
  if (output !== null && output.trim() !== '') {
    const tail = output.trimEnd().split('\n').slice(-MAX_OUTPUT_LINES);
    lines.push(`  apply output (last ${tail.length} lines, scrubbed):`, ...tail.map((l) => `    ${visibleText(scrubber.scrubString(l), 400)}`));
  }
  return lines;
}
