// How requests reach a human: the narrow interface every channel (terminal, ntfy) implements.
import type { Run } from '../run/run.ts';
import type { ApprovalText } from './plan-view.ts';

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
}
