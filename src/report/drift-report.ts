// What the forge hears of drift runs. Pure, apart from the process scrubber (through visibleText). A drift
// run reports on the checked ref's head under its own status context, `airlock/drift/<workspace>`, so it
// never overwrites a PR run's `airlock/<workspace>` on the same commit; and it keeps one living issue per
// workspace, "Drift in <workspace>": opened when drift is first told, commented on when it changes,
// edited silently when the same drift is seen again, closed when the workspace is back in sync. Addresses
// only, made inert as Markdown; never a value.
import { driftLines } from '../plan/drift-text.ts';
import { renderCounts, renderShortCounts } from '../plan/render.ts';
import type { Run } from '../run/run.ts';
import { escapeMarkdown } from '../lib/untrusted-text.ts';
import { inert } from './comment.ts';
import type { CommitStatus, StatusState } from './forge.ts';
import { cutDescription } from './status.ts';

const MAX_LISTED = 100;
const MAX_ADDRESS = 300;

export function driftStatusContext(workspace: string): string {
  return `airlock/drift/${workspace}`;
}

/** In sync: nothing drifted and nothing to apply, or the re-converging plan was applied. */
export function isInSync(run: Run): boolean {
  return run.state === 'no_changes' || run.state === 'applied';
}

/** The commit status of a drift run on the checked ref's head; null when there is nothing to say (skipped). */
export function driftStatusFor(run: Run): CommitStatus | null {
  const said = describeDrift(run);
  return said === null ? null : { state: said[0], context: driftStatusContext(run.workspace), description: cutDescription(said[1]) };
}

function describeDrift(run: Run): [StatusState, string] | null {
  const counts = run.plan ? renderShortCounts(run.plan.summary) : '';
  const drift = run.plan?.summary.drift;
  const found = drift ? `Drift: ${drift.total} object${drift.total === 1 ? '' : 's'} changed outside of Airlock` : `Not in sync: the code's changes are not applied (${counts})`;
  switch (run.state) {
    case 'planning':
      return ['pending', 'Checking for drift'];
    case 'skipped':
      // The slot was skipped (the workspace lock was held): nothing was learnt, so nothing is said.
      return null;
    case 'no_changes':
      return ['success', 'In sync: nothing changed outside of Airlock'];
    case 'applied':
      return ['success', `Re-converged: applied ${counts}`];
    case 'approved':
    case 'applying':
      return ['pending', `${found}; re-converging (${counts})`];
    case 'awaiting_approval':
      return ['failure', `${found}; waiting for a human to re-converge`];
    case 'planned':
      return ['failure', `${found}; ${run.driftNotice?.outcome === 'suppressed' ? 'unchanged since it was reported' : 'reported only'}`];
    case 'denied':
      return ['failure', `${found}; re-converging was denied`];
    case 'expired':
      return ['failure', `${found}; nobody decided in time`];
    case 'superseded':
      return ['error', 'Superseded by a newer drift check'];
    case 'cancelled':
      return ['error', 'Drift check cancelled by an operator'];
    case 'refused':
    case 'failed':
      return ['error', `Drift check failed (${run.error?.code ?? 'unknown'}); see airlock show on the runner host`];
    case 'needs_attention':
      return ['error', 'Needs attention: the re-converging apply may be partial; an operator must look'];
  }
}

/** The hidden first line a workspace's drift issue is found by; it carries the fingerprint it was last told. */
export function driftIssueMarker(repo: string, workspace: string): string {
  return `<!-- airlock:drift repo=${repo} workspace=${workspace}`;
}

export function driftIssueTitle(workspace: string): string {
  return `Drift in ${workspace}`;
}

/** The fingerprint an issue body was written for, or null when it names none. */
export function issueFingerprint(body: string): string | null {
  return /^<!-- airlock:drift [^\n]*? fingerprint=([0-9a-f]{64}) -->/.exec(body)?.[1] ?? null;
}

const STATE_TEXT: Partial<Record<Run['state'], string>> = {
  awaiting_approval: 'waiting for a human decision to re-converge',
  planned: 'reported only: nobody was asked',
  approved: 'approved; re-converging is queued',
  applying: 're-converging',
  denied: 're-converging was denied',
  expired: 'nobody decided before the request expired',
  needs_attention: 'the re-converging apply stopped part way: an operator must look',
};

/** The issue body for a drift run that found changes: what drifted, the latest check, how to re-converge. */
export function renderDriftIssue(run: Run, now = new Date()): string {
  const fingerprint = run.driftNotice?.fingerprint ?? '';
  const lines = [`${driftIssueMarker(run.repo, run.workspace)} fingerprint=${fingerprint} -->`, `### ${escapeMarkdown(driftIssueTitle(run.workspace))}`, ''];
  lines.push(`Airlock's scheduled drift check of ${inert(run.ref, 200)} found that the infrastructure no longer matches the code.`, '');
  lines.push(...findings(run));
  const state = STATE_TEXT[run.state] ?? run.state;
  lines.push('', `Latest check: run ${inert(run.id)} · commit ${inert(run.sha.slice(0, 12))} · ${escapeMarkdown(state)} · updated ${now.toISOString()}`);
  if (run.driftNotice?.outcome === 'suppressed') lines.push('', `The same drift as before: ${inert(run.driftNotice.reason, 300)}. Not notified again until it changes.`);
  lines.push('', `Re-converging is an ordinary approved apply of the drift run's plan (\`airlock show ${inert(run.id)}\` on the runner host). This issue is closed when a check finds the workspace in sync again.`);
  return lines.join('\n');
}

/** The comment that says the drift changed since the issue was last told. */
export function renderDriftChanged(run: Run): string {
  return [`The drift changed (run ${inert(run.id)}, commit ${inert(run.sha.slice(0, 12))}):`, '', ...findings(run)].join('\n');
}

/** The comment the issue is closed with. */
export function renderBackInSync(run: Run, now = new Date()): string {
  const how = run.state === 'applied' ? `the re-converging plan of run ${inert(run.id)} was applied` : `run ${inert(run.id)} found nothing to change`;
  return `Back in sync at ${now.toISOString()}: ${how}. Closing.`;
}

function findings(run: Run): string[] {
  const summary = run.plan?.summary;
  if (!summary) return [];
  const out: string[] = [];
  if (summary.drift) {
    const [headline, ...rest] = driftLines(summary.drift, (s, max) => inert(s, max), { max: MAX_LISTED, maxAddress: MAX_ADDRESS, indent: '' });
    out.push(`${escapeMarkdown(headline!)}:`, '', ...rest.map((l) => `- ${l.startsWith('…') ? escapeMarkdown(l) : backtickMarker(l)}`), '');
  }
  out.push(`Changes the code makes (applying them re-converges): ${escapeMarkdown(renderCounts(summary))}`);
  return out;
}

/** `~ addr (changed)` with the marker as code, so `-` is not read as a nested list. */
function backtickMarker(line: string): string {
  const mark = line.slice(0, 1);
  return `\`${mark}\` ${line.slice(2)}`;
}
