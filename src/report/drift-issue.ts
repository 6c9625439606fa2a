// The living drift issue of a workspace, kept in step with its latest drift run. Idempotent, so the
// reporter can send the same state again after a failure: the issue is found by its hidden marker each
// time, and the marker carries the fingerprint it was last told, so a changed drift comments once.
import type { Run } from '../run/run.ts';
import { driftIssueMarker, driftIssueTitle, isInSync, issueFingerprint, renderBackInSync, renderDriftChanged, renderDriftIssue } from './drift-report.ts';
import type { Forge } from './forge.ts';

/** What the issue became: its number, and what was done to it. */
export interface DriftIssueOutcome {
  issue: number | null;
  action: 'opened' | 'commented' | 'edited' | 'closed' | 'none';
}

/**
 * Drift told (new or changed): open the issue, or comment on the open one (a comment notifies its
 * watchers; an edit does not). The same drift again: edit the open issue's body only. In sync: say so and
 * close it. An issue a human closed is not reopened for drift already told.
 */
export async function syncDriftIssue(forge: Forge, run: Run, now = new Date()): Promise<DriftIssueOutcome> {
  const marker = `${driftIssueMarker(run.repo, run.workspace)} `;
  const open = (await forge.listOpenIssues()).find((i) => i.body.startsWith(marker));
  if (isInSync(run)) {
    if (!open) return { issue: null, action: 'none' };
    // The comment first: a retry after a failed close may say it twice, but never closes without saying why.
    await forge.createComment(open.number, renderBackInSync(run, now));
    await forge.updateIssue(open.number, { state: 'closed' });
    return { issue: open.number, action: 'closed' };
  }
  const notice = run.driftNotice;
  if (!notice || !run.plan) return { issue: open?.number ?? null, action: 'none' };
  const body = renderDriftIssue(run, now);
  if (!open) {
    if (notice.outcome !== 'notified') return { issue: null, action: 'none' };
    return { issue: await forge.createIssue(driftIssueTitle(run.workspace), body), action: 'opened' };
  }
  const changed = notice.outcome === 'notified' && issueFingerprint(open.body) !== notice.fingerprint;
  if (changed) await forge.createComment(open.number, renderDriftChanged(run));
  await forge.updateIssue(open.number, { body });
  return { issue: open.number, action: changed ? 'commented' : 'edited' };
}
