// The "Review" link of a request: the static approval page, with the request in the URL fragment, which a
// browser never sends to the page's server. It carries what the page shows (the summary, destroys first,
// as the runner listed it) and what it needs to sign and answer: run, commit, workspace, plan sha256, the
// nonce, and the approver's reply topic and reply token (the same two the Approve button carries). Pure.
import { pageUrl, type PasskeyConfig } from './config.ts';

export interface ReviewRequest {
  runId: string;
  repo: string;
  workspace: string;
  pr: number | null;
  sha: string;
  planSha256: string;
  tier: string;
  phase: 'approve' | 'confirm';
  expiresAt: string;
  approver: string;
  nonce: string;
  reply: { server: string; topic: string; token: string };
  title: string;
  summary: { counts: Record<string, number>; total: number; changes: Array<{ address: string; action: string }> };
}

/** Fragment budget: phones and ntfy carry a few KB in an action URL without trouble. */
export const MAX_FRAGMENT = 6000;
const MAX_ADDRESS = 200;

/** The fragment's JSON: short keys; changes as [action, address], in the runner's order (destroys first). */
export function reviewPayload(r: ReviewRequest, listed: number, rpId: string): Record<string, unknown> {
  const changes = r.summary.changes.slice(0, listed).map((c) => [c.action, c.address.length > MAX_ADDRESS ? `${c.address.slice(0, MAX_ADDRESS)}…` : c.address]);
  const counts = Object.fromEntries(Object.entries(r.summary.counts).filter(([, n]) => n > 0));
  return {
    v: 1,
    mode: 'approve',
    rp: rpId,
    run: r.runId,
    repo: r.repo,
    ws: r.workspace,
    pr: r.pr,
    sha: r.sha,
    plan: r.planSha256,
    tier: r.tier,
    phase: r.phase,
    exp: r.expiresAt,
    approver: r.approver,
    nonce: r.nonce,
    server: r.reply.server,
    topic: r.reply.topic,
    token: r.reply.token,
    title: r.title,
    counts,
    total: r.summary.total,
    changes,
    more: Math.max(0, r.summary.total - changes.length),
  };
}

/** The page URL for one approver's request; the list of changes is cut to fit MAX_FRAGMENT (the counts never are). */
export function reviewLink(config: PasskeyConfig, r: ReviewRequest): string {
  let listed = r.summary.changes.length;
  for (;;) {
    const fragment = `a=${Buffer.from(JSON.stringify(reviewPayload(r, listed, config.rpId))).toString('base64url')}`;
    if (fragment.length <= MAX_FRAGMENT || listed === 0) return pageUrl(config, fragment);
    listed = Math.floor(listed / 2);
  }
}
