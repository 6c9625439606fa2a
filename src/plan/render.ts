// Render a plan summary for a terminal. Pure. Every string that came from the repository or the plan goes
// through visibleText; colour, when asked for, wraps only the markers this file writes.
import { driftLines } from './drift-text.ts';
import { countOf, LISTING_ORDER, type ChangeAction, type ListedChange, type PlanSummary } from './summary.ts';
import { flaggedText, LOOKALIKE_FLAG, mayLookAlike, visibleText } from '../lib/untrusted-text.ts';

export interface RenderContext {
  repo: string;
  workspace: string;
  pr: number | null;
  sha: string;
  planSha256: string;
  author?: string;
}

export interface RenderOptions {
  /** Most change lines to print; the rest is counted on the cut line. Default: every listed change. */
  maxLines?: number;
  color?: boolean;
}

/** The marker before each listed change, here and on the phone. */
export const MARKERS: Record<ChangeAction, string> = {
  delete: '-',
  replace: '-/+',
  forget: 'x',
  read: '<=',
  import: 'imp',
  move: 'mv',
  create: '+',
  update: '~',
  output: 'out',
};
const COLORS: Record<ChangeAction, string> = {
  delete: '\x1b[31m',
  replace: '\x1b[1;31m',
  forget: '\x1b[35m',
  read: '\x1b[36m',
  import: '\x1b[36m',
  move: '\x1b[36m',
  create: '\x1b[32m',
  update: '\x1b[33m',
  output: '\x1b[34m',
};
const RESET = '\x1b[0m';
const MARKER_WIDTH = 3;
const NOUNS: Record<ChangeAction, [string, string]> = {
  delete: ['delete', 'deletes'],
  replace: ['replace', 'replaces'],
  forget: ['forget', 'forgets'],
  read: ['read at apply', 'reads at apply'],
  import: ['import', 'imports'],
  move: ['move', 'moves'],
  create: ['create', 'creates'],
  update: ['update', 'updates'],
  output: ['output change', 'output changes'],
};
const MAX_NAME = 200;
const MAX_ADDRESS = 300;

/** The summary as terminal text: header, complete counts, then the changes with destroys first. */
export function renderSummaryText(summary: PlanSummary, ctx: RenderContext, opts: RenderOptions = {}): string {
  const lines: string[] = [];
  const pr = ctx.pr === null ? 'no PR' : `PR #${ctx.pr}`;
  const sha = visibleText(ctx.sha.slice(0, 7));
  const plan = visibleText(ctx.planSha256.slice(0, 12));
  lines.push(`Plan for ${name(ctx.repo)} · workspace ${name(ctx.workspace)} · ${pr} · commit ${sha} · plan sha256 ${plan}…`);
  if (ctx.author !== undefined) lines.push(`Author: ${name(ctx.author)}`);
  lines.push(`Engine ${name(summary.engineVersion)} · plan format ${name(summary.formatVersion)}`);
  if (summary.errored) lines.push('WARNING: the plan errored; what follows is incomplete.');
  // Drift first and apart: what changed outside of the engine; the changes below are what the code does.
  if (summary.drift) lines.push(...driftLines(summary.drift, visibleText, { max: opts.maxLines ?? Infinity, maxAddress: MAX_ADDRESS }), 'Changes the code makes (applying them re-converges the drift):');
  lines.push(renderCounts(summary));
  if (summary.total === 0) {
    lines.push('No changes.');
    return lines.join('\n');
  }

  const maxLines = Math.max(0, Math.floor(opts.maxLines ?? Infinity));
  const shown = summary.changes.slice(0, maxLines);
  for (const change of shown) {
    const marker = MARKERS[change.action];
    const painted = opts.color ? `${COLORS[change.action]}${marker}${RESET}` : marker;
    const pad = ' '.repeat(MARKER_WIDTH - marker.length + 1);
    lines.push(`  ${painted}${pad}${changeText(change, MAX_ADDRESS, visibleText)}${needsLookalikeFlag(change) ? `  ${LOOKALIKE_FLAG}` : ''}`);
  }
  const cut = renderCutLine(summary, shown);
  if (cut !== '') lines.push(`  ${cut}`);
  return lines.join('\n');
}

/** A listed change's address with what else happens to it: "(moved from …)", "(imported)". */
export function changeText(change: ListedChange, max: number, show: (s: string, max: number) => string): string {
  const notes = [
    ...(change.movedFrom !== undefined && change.action !== 'move' ? [`moved from ${show(change.movedFrom, max)}`] : []),
    ...(change.imported && change.action !== 'import' ? ['imported'] : []),
  ];
  const from = change.action === 'move' && change.movedFrom !== undefined ? ` (from ${show(change.movedFrom, max)})` : '';
  return `${show(change.address, max)}${from}${notes.length ? ` (${notes.join(', ')})` : ''}`;
}

/** Whether a change line names something a look-alike could hide in. */
export function needsLookalikeFlag(change: ListedChange): boolean {
  return mayLookAlike(change.address) || (change.movedFrom !== undefined && mayLookAlike(change.movedFrom));
}

export type OtherKind = 'forget' | 'read' | 'import' | 'move' | 'output';

/** The kinds of change besides destroy, replace, create and update that the plan has, with their counts. */
export function otherCounts(summary: PlanSummary): Array<{ n: number; kind: OtherKind }> {
  const c = summary.counts;
  const all: Array<{ n: number; kind: OtherKind }> = [
    { n: countOf(c, 'forget'), kind: 'forget' },
    { n: countOf(c, 'read'), kind: 'read' },
    { n: countOf(c, 'imported'), kind: 'import' },
    { n: countOf(c, 'moved'), kind: 'move' },
    { n: countOf(c, 'output'), kind: 'output' },
  ];
  return all.filter((x) => x.n > 0);
}

const OTHER_PHRASES: Record<OtherKind, [string, string]> = {
  forget: ['to forget', 'to forget'],
  read: ['to read at apply', 'to read at apply'],
  import: ['to import', 'to import'],
  move: ['to move', 'to move'],
  output: ['output to change', 'outputs to change'],
};

/** "2 to destroy, 1 to replace, 3 to create, 4 to update", then every other kind of change there is. */
export function renderCounts(summary: PlanSummary): string {
  const c = summary.counts;
  const parts = [`${c.delete} to destroy`, `${c.replace} to replace`, `${c.create} to create`, `${c.update} to update`];
  for (const { n, kind } of otherCounts(summary)) parts.push(`${n} ${OTHER_PHRASES[kind][n === 1 ? 0 : 1]}`);
  return parts.join(', ');
}

/** The counts in a few characters, for one-line listings: "+1 ~2 -0 ±0", then any other kinds. */
export function renderShortCounts(summary: PlanSummary): string {
  const c = summary.counts;
  return [`+${c.create} ~${c.update} -${c.delete} ±${c.replace}`, ...otherCounts(summary).map(({ n, kind }) => `${n} ${kind}`)].join(' ');
}

/** What the list leaves out, per action, from the complete counts: "…and 212 more updates". */
export function renderCutLine(summary: PlanSummary, shown: PlanSummary['changes']): string {
  const shownBy = new Map<ChangeAction, number>();
  for (const c of shown) shownBy.set(c.action, (shownBy.get(c.action) ?? 0) + 1);
  const parts: string[] = [];
  for (const action of LISTING_ORDER) {
    const rest = countOf(summary.counts, action) - (shownBy.get(action) ?? 0);
    if (rest > 0) parts.push(`${rest} more ${NOUNS[action][rest === 1 ? 0 : 1]}`);
  }
  return parts.length === 0 ? '' : `…and ${parts.join(', ')}`;
}

function name(s: string): string {
  return flaggedText(s, MAX_NAME);
}
