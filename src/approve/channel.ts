// How requests reach a human: the narrow interface every channel (terminal, ntfy) implements.
import type { Run } from '../run/run.ts';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { ApprovalService } from './approval-service.ts';
import type { ApprovalText } from './plan-view.ts';
import type { ReplyListener } from './ntfy/reply-listener.ts';

/** What a channel that hears replies itself (over outbound streams) needs from the runner. */
export interface ListenDeps {
  approvals: Pick<ApprovalService, 'decide' | 'reject'>;
  /** The run as its approvers were shown it. */
  findRun(id: string): Promise<Run | null>;
  /** Whether a reply's nonce was issued by this runner (others leave it to the runner that planned). */
  ownsReply(nonce: string): Promise<boolean>;
  log: Logger;
  redis: Redis;
  prefix: string;
  /** How old a reply can be and still answer a live request. */
  replyWindowMs: number;
}

export type RequestPhase = 'approve' | 'confirm';

/** A way to reach a human. It gets a fresh token per approver and delivers it; it never decides. */
export interface ApprovalChannel {
  readonly name: string;
  /** Approvers this channel addresses; one token each. `null` means "whoever is at the runner host". */
  approvers(): Array<string | null>;
  /**
   * Send the request; `confirm` is the second tap a destructive plan needs. `text` is what the human
   * reads, rendered from the runner's own plan view; its sha256 is in every binding, so send it as is.
   */
  deliver(run: Run, requests: Array<{ approver: string | null; token: string }>, expiresAt: Date, phase: RequestPhase, text: ApprovalText): Promise<void>;
  /** Tell the humans what became of a request (approved, denied, expired, superseded, applied, …). */
  announce?(run: Run, outcome: string): Promise<void>;
  /** One message about the runner itself, not a run (Redis lost its data, say). */
  notice?(title: string, message: string): Promise<void>;
  /** Start hearing replies, for a channel whose decisions come back by itself (ntfy); absent otherwise. */
  listen?(deps: ListenDeps): ReplyListener;
}
