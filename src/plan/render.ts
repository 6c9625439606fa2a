// Render a plan summary for a terminal. Pure. Every string that came from the repository or the plan goes
// through visibleText; colour, when asked for, wraps only the markers this file writes.
import { LISTING_ORDER, type ChangeAction, type PlanSummary } from './summary.ts';
import { hasMixedScripts, visibleText } from './untrusted-text.ts';

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

const MARKERS: Record<ChangeAction, string> = {
  delete: '-',
  replace: '-/+',
  forget: 'x',
  create: '+',
  update: '~',
};
const COLORS: Record<ChangeAction, string> = {
  delete: '\x1b[31m',
  replace: '\x1b[1;31m',
  forget: '\x1b[35m',
  create: '\x1b[32m',
  update: '\x1b[33m',
};
const RESET = '\x1b[0m';
const MARKER_WIDTH = 3;
const NOUNS: Record<ChangeAction, [string, string]> = {
  delete: ['delete', 'deletes'],
  replace: ['replace', 'replaces'],
  forget: ['forget', 'forgets'],
  create: ['create', 'creates'],
  update: ['update', 'updates'],
};
const MAX_NAME = 200;
const MAX_ADDRESS = 300;
const MIXED_FLAG = '  [!] mixed scripts: look-alike letters?';

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
  lines.push(renderCounts(summary));
  if (summary.total === 0) {
    lines.push('No changes.');
    return lines.join('\n');
  }

  const maxLines = Math.max(0, Math.floor(opts.maxLines ?? Infinity));
  const shown = summary.changes.slice(0, maxLines);
  for (const { address, action } of shown) {
    const marker = MARKERS[action];
    const painted = opts.color ? `${COLORS[action]}${marker}${RESET}` : marker;
    const pad = ' '.repeat(MARKER_WIDTH - marker.length + 1);
    lines.push(`  ${painted}${pad}${visibleText(address, MAX_ADDRESS)}${hasMixedScripts(address) ? MIXED_FLAG : ''}`);
  }
  const cut = renderCutLine(summary, shown);
  if (cut !== '') lines.push(`  ${cut}`);
  return lines.join('\n');
}

/** "2 to destroy, 1 to replace, 3 to create, 4 to update" (forgets added when there are any). */
export function renderCounts(summary: PlanSummary): string {
  const { counts } = summary;
  const parts = [
    `${counts.delete} to destroy`,
    `${counts.replace} to replace`,
    `${counts.create} to create`,
    `${counts.update} to update`,
  ];
  if (counts.forget > 0) parts.push(`${counts.forget} to forget`);
  return parts.join(', ');
}

/** What the list leaves out, per action, from the complete counts: "…and 212 more updates". */
export function renderCutLine(summary: PlanSummary, shown: PlanSummary['changes']): string {
  const shownBy: Record<ChangeAction, number> = { delete: 0, replace: 0, forget: 0, create: 0, update: 0 };
  for (const c of shown) shownBy[c.action] += 1;
  const parts: string[] = [];
  for (const action of LISTING_ORDER) {
    const rest = summary.counts[action] - shownBy[action];
    if (rest > 0) parts.push(`${rest} more ${NOUNS[action][rest === 1 ? 0 : 1]}`);
  }
  return parts.length === 0 ? '' : `…and ${parts.join(', ')}`;
}

function name(s: string): string {
  return `${visibleText(s, MAX_NAME)}${hasMixedScripts(s) ? ' [!]' : ''}`;
}
