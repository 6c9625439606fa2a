// Which commit status a run's state is, and its one-line description. Pure. The description holds only
// what Airlock itself wrote (states, counts, error codes), never a repo-supplied name, and is cut to 140.
import { renderShortCounts } from '../plan/render.ts';
import type { Run, RunState } from '../run/run.ts';
import { visibleText } from '../lib/untrusted-text.ts';
import { STATUS_DESCRIPTION_MAX, type CommitStatus, type StatusState } from './forge.ts';

export const STATUS_OF: Record<RunState, StatusState> = {
  planning: 'pending',
  awaiting_approval: 'pending',
  approved: 'pending',
  applying: 'pending',
  applied: 'success',
  no_changes: 'success',
  // Applies are switched off on this runner: the plan is the outcome.
  planned: 'success',
  refused: 'failure',
  failed: 'failure',
  denied: 'failure',
  expired: 'failure',
  // A newer head of the PR took over: this commit will never be applied.
  superseded: 'failure',
  // An operator stopped it before any apply: this commit will not be applied.
  cancelled: 'failure',
  needs_attention: 'error',
};

export function statusContext(workspace: string): string {
  return `airlock/${workspace}`;
}

export function statusFor(run: Run): CommitStatus {
  return { state: STATUS_OF[run.state], context: statusContext(run.workspace), description: cutDescription(describe(run)) };
}

function describe(run: Run): string {
  const counts = run.plan ? renderShortCounts(run.plan.summary) : '';
  const by = run.decision ? (run.decision.by.kind === 'human' ? 'a human' : 'policy') : '';
  switch (run.state) {
    case 'planning':
      return 'Planning';
    case 'awaiting_approval':
      return `Plan ${counts}; waiting for a human decision (tier ${run.plan?.tier ?? '?'})`;
    case 'approved':
      return `Plan ${counts}; approved by ${by}, apply queued`;
    case 'applying':
      return `Applying ${counts}`;
    case 'applied':
      return `Applied ${counts}`;
    case 'no_changes':
      return 'No changes';
    case 'planned':
      return `Planned ${counts}; applies are off on this runner`;
    case 'refused':
      return `Refused by the guard: ${run.refusal?.length ?? 1} finding(s); see the PR comment to fix it`;
    case 'failed':
      return `Failed (${run.error?.code ?? 'unknown'}); see the PR comment`;
    case 'denied':
      return `Denied by ${by || 'policy'}`;
    case 'expired':
      return 'No decision before the approval expired';
    case 'cancelled':
      return 'Cancelled by an operator before any apply';
    case 'superseded':
      return 'Superseded by a newer commit; not applied';
    case 'needs_attention':
      return 'Needs attention: the apply may be partial; an operator must look';
  }
}

/** At most 140 characters (GitHub answers 422 past that), scrubbed, controls made visible. */
export function cutDescription(text: string): string {
  return visibleText(text, STATUS_DESCRIPTION_MAX);
}
