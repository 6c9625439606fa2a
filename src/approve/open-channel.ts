// Which channel the config asks for. The runner needs it whole and fails at start when a token file is
// wrong; the CLI only announces break-glass decisions through it, so it falls back to the terminal one.
import type { Logger } from 'pino';
import type { ApprovalSlice } from './config.ts';
import { scrubber } from '../log/scrub.ts';
import type { ApprovalChannel } from './approval-service.ts';
import type { NtfyConfig } from './config.ts';
import { createNtfyChannel, loadNtfyTokens } from './ntfy/channel.ts';
import { createNtfyClient } from '../ntfy/client.ts';
import { AnonymousAccessError, createExposureGate } from './ntfy/exposure.ts';
import { createTerminalChannel } from './terminal-channel.ts';
import { reviewActionFor } from './passkey-review.ts';

/** The approval channel of a runner config (`approval.channel`). */
export async function openApprovalChannel(loaded: ApprovalSlice, options: { log: Logger; writer: 'runner' | 'cli' }): Promise<ApprovalChannel> {
  const ntfy = loaded.config.approval.ntfy;
  if (loaded.config.approval.channel !== 'ntfy' || !ntfy) return createTerminalChannel(options.log);
  try {
    const tokens = await loadNtfyTokens(ntfy, loaded.file, scrubber);
    const client = clientFor(ntfy);
    if (options.writer === 'cli') return createNtfyChannel({ config: ntfy, tokens, client, log: options.log });
    const gate = createExposureGate({ client, approvers: ntfy.approvers, override: ntfy.unsafeAllowAnonymousAccess, log: options.log });
    // An open server is a refusal to start; one that cannot be asked now is asked again before each request.
    await gate.ensureClosed().catch((err: unknown) => {
      if (err instanceof AnonymousAccessError) throw err;
      options.log.warn({ err }, 'could not check the ntfy server for anonymous access; no approval request goes out until the check passes');
    });
    const passkey = loaded.config.approval.passkey;
    return createNtfyChannel({ config: ntfy, tokens, client, log: options.log, gate, ...(passkey ? { review: reviewActionFor(passkey) } : {}) });
  } catch (err) {
    if (options.writer === 'runner') throw err;
    options.log.warn({ err }, 'ntfy tokens unreadable here: phones are not told about this decision');
    return createTerminalChannel(options.log);
  }
}

/** The client for the configured server, paced by `approval.ntfy.requestBudget`. */
export function clientFor(ntfy: NtfyConfig) {
  const budget = ntfy.requestBudget;
  return createNtfyClient(ntfy.url, { budget: budget === false ? null : { burst: budget.burst, everyMs: budget.every } });
}

/** How far back a reply can matter: anything older answers a request that has expired. */
export function replyWindowMs(loaded: ApprovalSlice): number {
  return Math.max(loaded.config.approval.ttl, loaded.config.approval.confirmTtl) + 60_000;
}
