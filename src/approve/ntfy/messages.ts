// The ntfy messages Airlock publishes: the request with its Approve/Deny buttons, the follow-ups that say
// what became of it, and the note that a tap was not counted. Pure. Always plain text (markdown off).
// The only secret in a request is the nonce in the button bodies, plus the approver's own reply token in
// the button headers: that is how an ntfy `http` action authenticates, and that token may only write
// to that approver's reply topic.
import type { Run } from '../../run/run.ts';
import { renderCounts } from '../../plan/render.ts';
import type { NtfyAction, NtfyPublish } from '../../ntfy/client.ts';
import { visibleText } from '../../lib/untrusted-text.ts';
import { fitBytes, PHONE_MESSAGE_BYTES, PHONE_TITLE_BYTES, where } from '../phone-summary.ts';
import type { ApprovalText } from '../plan-view.ts';
import { renderReply } from '../reply.ts';
import type { RequestPhase } from '../approval-service.ts';

export interface ReplyTarget {
  /** The ntfy server's base URL as the phone reaches it. */
  server: string;
  replyTopic: string;
  replyToken: string;
}

/**
 * The request for one approver: the text exactly as rendered from the runner's plan view (its sha256 is
 * in the binding), then Approve (or Confirm) and Deny, each a POST to the reply topic.
 */
export function buildRequest(text: ApprovalText, notifyTopic: string, reply: ReplyTarget, nonce: string, phase: RequestPhase, opts: { drift?: boolean } = {}): NtfyPublish {
  const button = (label: string, decision: 'approve' | 'deny'): NtfyAction => ({
    action: 'http',
    label,
    url: `${reply.server}/${reply.replyTopic}`,
    method: 'POST',
    headers: { Authorization: `Bearer ${reply.replyToken}` },
    body: renderReply(nonce, decision),
    clear: true,
  });
  return {
    topic: notifyTopic,
    title: text.title,
    message: text.message,
    // A drift check's request is a low-priority notice: nobody is waiting on it, as someone is on a PR.
    priority: phase === 'confirm' ? 5 : opts.drift ? 2 : 4,
    tags: phase === 'confirm' ? ['warning'] : opts.drift ? ['mag'] : ['lock'],
    markdown: false,
    actions: [button(phase === 'confirm' ? 'Confirm destroy' : 'Approve', 'approve'), button('Deny', 'deny')],
  };
}

const OUTCOMES: Record<string, { title: string; priority: 1 | 2 | 3 | 4 | 5; tag: string; text(run: Run): string }> = {
  approved: { title: 'Approved', priority: 3, tag: 'white_check_mark', text: (r) => `Approved by ${decider(r)}. The apply is queued.` },
  denied: { title: 'Denied', priority: 3, tag: 'no_entry', text: (r) => `Denied by ${decider(r)}. Nothing will be applied.` },
  expired: { title: 'Expired', priority: 3, tag: 'hourglass', text: () => 'Nobody answered in time: this counts as a denial. Nothing will be applied.' },
  superseded: { title: 'Superseded', priority: 2, tag: 'recycle', text: (r) => (r.kind === 'drift' ? 'A newer head or drift check replaced this check: taps on its request no longer count.' : 'A newer commit replaced this plan: taps on its request no longer count. The newer plan asks again if it needs to.') },
  applied: { title: 'Applied', priority: 3, tag: 'rocket', text: (r) => `Applied: ${r.plan ? renderCounts(r.plan.summary) : 'the approved plan'}.` },
  failed: { title: 'Apply failed', priority: 4, tag: 'x', text: (r) => `The apply failed (${visibleText(r.error?.code ?? 'unknown error', 60)}). It is not retried; see \`airlock show ${r.id}\` on the runner host.` },
  needs_attention: { title: 'Needs attention', priority: 5, tag: 'rotating_light', text: (r) => `The apply was interrupted and may be partial. A human must check it: \`airlock show ${r.id}\` on the runner host.` },
};

/** A follow-up for one approver telling what became of a run; null for outcomes nobody needs told. */
export function buildOutcome(run: Run, outcome: string, notifyTopic: string): NtfyPublish | null {
  const o = OUTCOMES[outcome];
  if (!o) return null;
  return {
    topic: notifyTopic,
    title: fitBytes(`${o.title}: ${where(run)}`, PHONE_TITLE_BYTES),
    message: fitBytes(`${o.text(run)}\nRun ${run.id} · commit ${run.sha.slice(0, 7)}`, PHONE_MESSAGE_BYTES),
    priority: o.priority,
    tags: [o.tag],
    markdown: false,
  };
}

/** A message about the runner itself (not about one run): once per event, never per run. */
export function buildNotice(title: string, message: string, notifyTopic: string): NtfyPublish {
  return { topic: notifyTopic, title: fitBytes(title, PHONE_TITLE_BYTES), message: fitBytes(message, PHONE_MESSAGE_BYTES), priority: 4, tags: ['warning'], markdown: false };
}

/** Tell an approver their tap did not count, and why. */
export function buildRefusal(run: Run, reason: string, notifyTopic: string): NtfyPublish {
  return {
    topic: notifyTopic,
    title: fitBytes(`Not counted: ${where(run)}`, PHONE_TITLE_BYTES),
    message: fitBytes(`Your tap was refused: ${reason}. Nothing changed.\nRun ${run.id} · commit ${run.sha.slice(0, 7)} · now ${run.state}`, PHONE_MESSAGE_BYTES),
    priority: 3,
    tags: ['warning'],
    markdown: false,
  };
}

function decider(run: Run): string {
  const d = run.decision;
  if (!d) return 'someone';
  // Approver names and OS user names come from the runner host, not the repository: shown, not escaped.
  return `${visibleText(d.by.id, 64)}${d.breakGlass ? ' on the runner host (break-glass)' : ` via ${visibleText(d.channel, 20)}`}`;
}
