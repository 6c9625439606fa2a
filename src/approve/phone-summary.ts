// What the approver reads on the phone before tapping. Pure. Fits a fixed byte budget, well below ntfy's
// 4 KB (a longer body would become an attachment); destroys come first and the counts are always complete.
// Repo-supplied strings are made visible, then escaped for plain text, the format the message is published
// in (`markdown: false`): shown as they are, except that a URL, `www.` host or e-mail address is defanged so
// the apps do not turn a repo-supplied one into a tappable link.
import { scrubber } from '../log/scrub.ts';
import { changeText, MARKERS, needsLookalikeFlag, otherCounts, renderCounts, renderCutLine } from '../plan/render.ts';
import type { ChangeAction, PlanSummary } from '../plan/summary.ts';
import { escapePlainText, mayLookAlike, visibleText } from '../lib/untrusted-text.ts';
import type { RenderContext } from '../plan/render.ts';
import type { ValueDiffs } from '../plan/value-diff.ts';
import { driftLines } from '../plan/drift-text.ts';

export const PHONE_MESSAGE_BYTES = 3072;
export const PHONE_TITLE_BYTES = 200;

export interface PhoneContext extends RenderContext {
  runId?: string;
  /** Why the policy gave this tier (`[rule] what`); at most three are shown. */
  reasons?: string[];
  expiresAt: Date;
  /** Attribute values to show under each change (`approval.showValues`); none when absent. */
  values?: ValueDiffs;
}

export interface PhoneText {
  title: string;
  message: string;
}

const DESTROYS: ReadonlySet<ChangeAction> = new Set(['delete', 'replace']);
const MAX_ADDRESS = 160;
const MAX_NAME = 64;
const LOOKALIKE = ' [!] non-ASCII';
const MAX_REASONS = 3;
const MAX_REASON = 160;
const MAX_VALUES = 3;
const MAX_VALUE_LINE = 120;
const MAX_DRIFT_SHOWN = 5;

/** The request for the first tap: identity of the plan, complete counts, then the changes, destroys first. */
export function renderPhoneRequest(summary: PlanSummary, ctx: PhoneContext, budget = PHONE_MESSAGE_BYTES): PhoneText {
  const destroys = destroyCount(summary);
  const head = [...identityLines(ctx), ...(summary.drift ? driftLines(summary.drift, phoneText, { max: MAX_DRIFT_SHOWN, maxAddress: MAX_ADDRESS }) : []), renderCounts(summary)];
  if (summary.drift) head.push('Approving applies the plan below, which puts them back as the code says.');
  if (destroys > 0) head.push(`This destroys ${destroys} resource${destroys === 1 ? '' : 's'}: approving asks for a second tap.`);
  head.push(...reasonLines(ctx.reasons ?? []));
  const tail = [`Expires ${formatTime(ctx.expiresAt)}.`];
  return {
    title: fitBytes(`${summary.drift ? `Drift (${summary.drift.total}), re-converge?` : 'Approve?'} ${where(ctx)}: ${shortCounts(summary)}`, PHONE_TITLE_BYTES),
    message: renderWithin(summary, summary.changes, head, tail, budget, ctx.values),
  };
}

/** The request for the second tap a destructive plan needs: what gets destroyed, first and by name. */
export function renderPhoneConfirm(summary: PlanSummary, ctx: PhoneContext, budget = PHONE_MESSAGE_BYTES): PhoneText {
  const destroys = destroyCount(summary);
  const noun = `resource${destroys === 1 ? '' : 's'}`;
  const head = [`Confirm: this destroys ${destroys} ${noun}:`];
  const tail = [...identityLines(ctx), renderCounts(summary), `Expires ${formatTime(ctx.expiresAt)}. Only this second tap lets the apply go.`];
  return {
    title: fitBytes(`Confirm: this destroys ${destroys} ${noun} · ${where(ctx)}`, PHONE_TITLE_BYTES),
    message: renderWithin(summary, summary.changes.filter((c) => DESTROYS.has(c.action)), head, tail, budget, ctx.values),
  };
}

/** `repo-string` shown safely on the phone: visible code points, links defanged, flagged when not ASCII. */
export function phoneText(s: string, maxLength = MAX_NAME): string {
  return `${escapePlainText(visibleText(s, maxLength))}${mayLookAlike(s) ? LOOKALIKE : ''}`;
}

/** Clip to at most `max` UTF-8 bytes on a code point boundary, ending in '…' when cut; scrubbed before the cut. */
export function fitBytes(text: string, max: number): string {
  const s = scrubber.scrubString(text);
  if (Buffer.byteLength(s) <= max) return s;
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (bytes + n + 3 > max) break;
    out += ch;
    bytes += n;
  }
  return `${out}…`;
}

function renderWithin(summary: PlanSummary, candidates: PlanSummary['changes'], head: string[], tail: string[], budget: number, values?: ValueDiffs): string {
  const fixed = Buffer.byteLength([...head, ...tail].join('\n'));
  const shown: PlanSummary['changes'] = [];
  const lines: string[] = [];
  const byAddress = new Map((values?.changes ?? []).map((c) => [c.address, c]));
  let used = fixed;
  for (const change of candidates) {
    const line = [
      `${MARKERS[change.action]} ${changeText(change, MAX_ADDRESS, (a, max) => escapePlainText(visibleText(a, max)))}${needsLookalikeFlag(change) ? LOOKALIKE : ''}`,
      ...(change.action === 'delete' ? [] : valueLines(byAddress.get(change.address))),
    ].join('\n');
    const cut = renderCutLine(summary, [...shown, change]);
    const cost = Buffer.byteLength(line) + 1;
    if (used + cost + (cut ? Buffer.byteLength(cut) + 1 : 0) > budget) break;
    shown.push(change);
    lines.push(line);
    used += cost;
  }
  const cut = renderCutLine(summary, shown);
  const text = [...head, ...lines, ...(cut ? [cut] : []), ...tail].join('\n');
  // The fixed parts are bounded far below the budget; clipping is a last guard, never the plan.
  return fitBytes(text, budget);
}

/** At most MAX_VALUES changed attributes of one change, already redacted and scrubbed, made safe again. */
function valueLines(values: ValueDiffs['changes'][number] | undefined): string[] {
  if (!values) return [];
  const lines = values.attributes.slice(0, MAX_VALUES).map((a) => `   ${phoneText(`${a.path}: ${a.before} -> ${a.after}`, MAX_VALUE_LINE)}`);
  const more = values.attributes.length - MAX_VALUES + values.more;
  if (more > 0) lines.push(`   …${more} more value${more === 1 ? '' : 's'} (airlock show)`);
  return lines;
}

function reasonLines(reasons: string[]): string[] {
  const lines = reasons.slice(0, MAX_REASONS).map((r) => `Why: ${phoneText(r, MAX_REASON)}`);
  if (reasons.length > MAX_REASONS) lines.push(`…and ${reasons.length - MAX_REASONS} more reasons (airlock show)`);
  return lines;
}

function identityLines(ctx: PhoneContext): string[] {
  const pr = ctx.pr === null ? 'no PR' : `PR #${ctx.pr}`;
  const lines = [`${pr} · commit ${phoneText(ctx.sha.slice(0, 7), 7)}${ctx.author === undefined ? '' : ` · author ${phoneText(ctx.author)}`}`];
  lines.push(`${phoneText(ctx.repo)} / ${phoneText(ctx.workspace)} · plan sha256 ${phoneText(ctx.planSha256.slice(0, 12), 12)}${ctx.runId ? ` · run ${phoneText(ctx.runId, 24)}` : ''}`);
  return lines;
}

/** "infra/default PR #7": the run's place, for titles (config names and a number, made visible). */
export function where(ctx: Pick<PhoneContext, 'repo' | 'workspace' | 'pr'>): string {
  return `${visibleText(ctx.repo, 48)}/${visibleText(ctx.workspace, 48)} ${ctx.pr === null ? '(no PR)' : `PR #${ctx.pr}`}`;
}

function shortCounts(summary: PlanSummary): string {
  const { counts } = summary;
  const parts = [`${counts.delete} destroy`, `${counts.replace} replace`, `${counts.create} create`, `${counts.update} update`];
  return [...parts, ...otherCounts(summary).map(({ n, kind }) => `${n} ${kind}`)].join(', ');
}

function destroyCount(summary: PlanSummary): number {
  return summary.counts.delete + summary.counts.replace;
}

function formatTime(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
