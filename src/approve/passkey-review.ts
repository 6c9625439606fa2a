// The "Review" action of an ntfy request when passkey approvals are on: it opens the static approval
// page (passkey/review-link.ts) with this approver's request in the URL fragment.
import type { Run } from '../run/run.ts';
import type { RequestPhase } from './approval-service.ts';
import type { NtfyAction } from '../ntfy/client.ts';
import type { ReplyTarget } from './ntfy/messages.ts';
import type { PasskeyConfig } from './passkey/config.ts';
import { reviewLink } from './passkey/review-link.ts';
import type { ApprovalText } from './plan-view.ts';

export type ReviewAction = (run: Run, approver: string, nonce: string, reply: ReplyTarget, phase: RequestPhase, expiresAt: Date, text: ApprovalText) => NtfyAction | null;

/** The Review action for a request, from the run as its approvers are shown it (the runner's plan view). */
export function reviewActionFor(config: PasskeyConfig): ReviewAction {
  return (run, approver, nonce, reply, phase, expiresAt, text) => {
    if (!run.plan) return null;
    const url = reviewLink(config, {
      runId: run.id,
      repo: run.repo,
      workspace: run.workspace,
      pr: run.pr,
      sha: run.sha,
      planSha256: run.plan.sha256,
      tier: run.plan.tier,
      phase,
      expiresAt: expiresAt.toISOString(),
      approver,
      nonce,
      reply: { server: reply.server, topic: reply.replyTopic, token: reply.replyToken },
      title: text.title,
      summary: { counts: { ...run.plan.summary.counts }, total: run.plan.summary.total, changes: run.plan.summary.changes },
    });
    return { action: 'view', label: phase === 'confirm' ? 'Review and confirm' : 'Review', url, clear: false };
  };
}
