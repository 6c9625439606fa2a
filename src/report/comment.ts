// The one PR comment per workspace, as Markdown. Pure, apart from the process scrubber (through
// visibleText). Every repo- or engine-supplied string is made visible (bidi, controls) and then escaped so
// that none of it renders as Markdown or HTML: no links, no @mentions, no headings, no fake "approved".
// Engine output goes in a fence longer than any backtick run it holds. Never carried: nonces, topics,
// approvers' contact details, tokens, plan values.
import { changeText, MARKERS, renderCounts, renderCutLine } from '../plan/render.ts';
import { LISTING_ORDER } from '../run/plan-record.ts';
import type { Run } from '../run/run.ts';
import { escapeMarkdown, LOOKALIKE_FLAG, mayLookAlike, visibleText } from '../lib/untrusted-text.ts';
import { COMMENT_BODY_MAX } from './forge.ts';
import { STATUS_OF } from './status.ts';

/** The hidden marker the comment is found by again, after a restart: one per repo and workspace. */
export function commentMarker(repo: string, workspace: string): string {
  return `<!-- airlock:report repo=${repo} workspace=${workspace} -->`;
}

const TITLES: Record<Run['state'], string> = {
  planning: 'Planning',
  awaiting_approval: 'Waiting for a human decision',
  approved: 'Approved, apply queued',
  applying: 'Applying',
  applied: 'Applied',
  no_changes: 'No changes',
  planned: 'Planned (applies are off on this runner)',
  refused: 'Refused by the guard',
  failed: 'Failed',
  denied: 'Denied',
  expired: 'Expired without a decision',
  superseded: 'Superseded by a newer commit',
  cancelled: 'Cancelled by an operator',
  needs_attention: 'Needs attention',
};
const ICON: Record<string, string> = { pending: '⏳', success: '✅', failure: '❌', error: '⚠️' };
const MAX_CHANGES = 200;
const MAX_NAME = 300;
const MAX_TAIL = 4000;
// Room left under GitHub's 65536 for the tail and the cut line.
const BODY_BUDGET = COMMENT_BODY_MAX - 2_000;

/** Untrusted text, inline: visible, scrubbed, cut, and inert as Markdown. */
export function inert(s: string, max = MAX_NAME): string {
  return escapeMarkdown(visibleText(s, max));
}

export interface CommentOptions {
  now?: Date;
}

export function renderComment(run: Run, opts: CommentOptions = {}): string {
  const lines: string[] = [commentMarker(run.repo, run.workspace)];
  lines.push(`### ${ICON[STATUS_OF[run.state]]} Airlock · workspace ${inert(run.workspace, 63)}: ${TITLES[run.state]}`);
  lines.push('', `Commit ${inert(run.sha.slice(0, 12))} · run ${inert(run.id)} · updated ${(opts.now ?? new Date()).toISOString()}`);
  if (run.refusal?.length) lines.push(...refusalSection(run.refusal));
  if (run.plan) lines.push(...planSection(run));
  if (run.decision) lines.push(...decisionSection(run));
  if (run.apply || ['applied', 'needs_attention'].includes(run.state)) lines.push(...applySection(run));
  if (run.error && run.state !== 'refused') lines.push(...errorSection(run.error));
  if (run.state === 'superseded') lines.push('', 'A newer commit of this pull request is planned instead; this one will not be applied.');
  return fit(lines.join('\n'));
}

function refusalSection(refusal: string[]): string[] {
  const out = ['', '#### Guard refusals', '', 'Change the pull request so that each rule below passes; the runner config decides what is allowed.', ''];
  for (const line of refusal.slice(0, 100)) {
    // `[rule-id] file block: message`, as the guard wrote it (already made visible).
    const m = /^\[([a-z0-9-]{1,60})\] ([\s\S]*)$/.exec(line);
    out.push(m ? `- rule \`${m[1]}\`: ${inert(m[2]!, 900)}` : `- ${inert(line, 900)}`);
  }
  if (refusal.length > 100) out.push(`- …and ${refusal.length - 100} more`);
  return out;
}

function planSection(run: Run): string[] {
  const plan = run.plan!;
  const summary = plan.summary;
  const out = ['', '#### Plan', '', `${renderCounts(summary)} · plan sha256 ${plan.sha256.slice(0, 12)}…`];
  if (summary.errored) out.push('', '**The plan errored; the list is incomplete.**');
  const order = (a: string) => LISTING_ORDER.indexOf(a as (typeof LISTING_ORDER)[number]);
  const changes = [...summary.changes].sort((a, b) => order(a.action) - order(b.action)).slice(0, MAX_CHANGES);
  if (changes.length) {
    out.push('');
    for (const change of changes) {
      const flag = mayLookAlike(change.address) ? ` ${escapeMarkdown(LOOKALIKE_FLAG)}` : '';
      out.push(`- \`${MARKERS[change.action]}\` ${changeText(change, MAX_NAME, inert)}${flag}`);
    }
    const cut = renderCutLine(summary, changes);
    if (cut) out.push(`- ${escapeMarkdown(cut)}`);
  }
  out.push('', `Policy tier **${plan.tier}**${plan.reasons.length ? ':' : ''}`);
  for (const reason of plan.reasons.slice(0, 20)) out.push(`- ${inert(reason, 500)}`);
  return out;
}

function decisionSection(run: Run): string[] {
  const d = run.decision!;
  const who = d.by.kind === 'human' ? 'by a human' : 'by policy';
  return ['', '#### Decision', '', `${d.decision === 'approve' ? 'Approved' : 'Denied'} ${who}${d.breakGlass ? ' (break-glass)' : ''} at ${timeText(d.at)}`];
}

function applySection(run: Run): string[] {
  const out = ['', '#### Apply', ''];
  if (run.state === 'applied') out.push(`Applied at ${timeText(run.apply?.finishedAt ?? run.updatedAt)}.`);
  else if (run.state === 'applying') out.push(`Started at ${timeText(run.apply?.startedAt ?? run.updatedAt)}.`);
  else if (run.state === 'needs_attention') out.push('The apply stopped part way; an operator must look before anything else is applied here.');
  else if (run.state === 'failed') out.push('The apply failed; see the error below.');
  return out;
}

/** A stored time as ISO text (digits, '-', ':', '.'), or escaped as it is when it does not parse. */
function timeText(t: string): string {
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? inert(t, 40) : new Date(ms).toISOString();
}

function errorSection(error: NonNullable<Run['error']>): string[] {
  const out = ['', '#### Error', '', `\`${inert(error.code, 100).replace(/`/g, '')}\`: ${inert(error.message, 1000)}`];
  if (error.tail) out.push('', 'Engine output (last lines, scrubbed):', '', ...fenced(visibleTail(error.tail)));
  return out;
}

/** The tail's last MAX_TAIL characters, scrubbed and with controls made visible, line by line. */
function visibleTail(tail: string): string {
  const lines = tail.slice(-MAX_TAIL).split(/\r?\n/);
  return lines.map((l) => visibleText(l, 500)).join('\n');
}

/** A code fence that the content cannot close: one backtick longer than its longest run. */
export function fenced(text: string): string[] {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}text`, text, fence];
}

/** Cut to the forge's body limit on a line boundary, saying so. */
function fit(body: string): string {
  if (body.length <= BODY_BUDGET) return body;
  const cut = body.slice(0, BODY_BUDGET);
  const kept = cut.slice(0, cut.lastIndexOf('\n'));
  // A cut inside a fence would leave it open: close it.
  const fences = kept.match(/^`{3,}/gm) ?? [];
  return `${kept}${fences.length % 2 === 1 ? `\n${fences.at(-1)}` : ''}\n\n…the rest is cut to fit the forge's comment limit; \`airlock show\` has it all.`;
}
