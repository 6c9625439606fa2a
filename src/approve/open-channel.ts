// Which channel the config asks for. The runner needs it whole and fails at start when a token file is
// wrong; the CLI only announces break-glass decisions through it, so it falls back to the terminal one.
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.ts';
import { scrubber } from '../log/scrub.ts';
import type { ApprovalChannel } from './approval-service.ts';
import { createNtfyChannel, loadNtfyTokens } from './ntfy-channel.ts';
import { createNtfyClient } from './ntfy-client.ts';
import { createTerminalChannel } from './terminal-channel.ts';

/** The approval channel of a runner config (`approval.channel`). */
export async function openApprovalChannel(loaded: LoadedConfig, options: { log: Logger; writer: 'runner' | 'cli' }): Promise<ApprovalChannel> {
  const ntfy = loaded.config.approval.ntfy;
  if (loaded.config.approval.channel !== 'ntfy' || !ntfy) return createTerminalChannel(options.log);
  try {
    const tokens = await loadNtfyTokens(ntfy, loaded.file, scrubber);
    return createNtfyChannel({ config: ntfy, tokens, client: createNtfyClient(ntfy.url), log: options.log });
  } catch (err) {
    if (options.writer === 'runner') throw err;
    options.log.warn({ err }, 'ntfy tokens unreadable here: phones are not told about this decision');
    return createTerminalChannel(options.log);
  }
}

/** How far back a reply can matter: anything older answers a request that has expired. */
export function replyWindowMs(loaded: LoadedConfig): number {
  return Math.max(loaded.config.approval.ttl, loaded.config.approval.confirmTtl) + 60_000;
}
