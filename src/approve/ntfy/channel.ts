// The ntfy channel: one request per approver on their own notify topic, follow-ups on the same topic.
// Publishing uses the publisher token (write-only on the notify topics); replies come back on each
// approver's reply topic and are heard by ntfy-replies.ts.
import type { Logger } from 'pino';
import type { Run } from '../../run/run.ts';
import { AirlockError } from '../../errors.ts';
import type { Scrubber } from '../../log/scrub.ts';
import type { ApprovalChannel, RequestPhase } from '../channel.ts';
import type { ApproverConfig, NtfyConfig } from '../config.ts';
import { AUTH_LOCKOUT_HINT, NtfyError } from '../errors.ts';
import type { NtfyClient, NtfyPublish } from '../../ntfy/client.ts';
import { buildNotice, buildOutcome, buildRefusal, buildRequest } from './messages.ts';
import { listenForReplies } from './replies.ts';
import type { ExposureGate } from './exposure.ts';
import { readTokenFile, resolveTokenFile } from '../token-files.ts';
import type { ReviewAction } from '../passkey-review.ts';

export interface NtfyTokens {
  publish: string;
  subscribe: string;
  /** approver name → that approver's reply-topic write token */
  replies: Map<string, string>;
}

export type NtfyChannel = ApprovalChannel & {
  readonly config: NtfyConfig;
  readonly client: NtfyClient;
  readonly tokens: NtfyTokens;
  /** Tell one approver that their tap did not count. */
  notifyRefusal(approver: string, run: Run, reason: string): Promise<void>;
};

/** Read every token file of the ntfy section (registering each value with the scrubber). */
export async function loadNtfyTokens(config: NtfyConfig, configFile: string, scrubber: Scrubber): Promise<NtfyTokens> {
  const read = (file: string) => readTokenFile(resolveTokenFile(file, configFile), scrubber);
  const replies = new Map<string, string>();
  for (const a of config.approvers) replies.set(a.name, await read(a.replyTokenFile));
  return { publish: await read(config.publishTokenFile), subscribe: await read(config.subscribeTokenFile), replies };
}

const ATTEMPTS = 3;

/** The channel; with a `gate`, no request (and so no nonce) goes out until the server is known closed to anyone. */
export function createNtfyChannel(deps: { config: NtfyConfig; tokens: NtfyTokens; client: NtfyClient; log: Logger; retryDelayMs?: number; gate?: ExposureGate; review?: ReviewAction }): NtfyChannel {
  const { config, tokens, client, log } = deps;
  const byName = new Map<string, ApproverConfig>(config.approvers.map((a) => [a.name, a]));

  /** Publish with a few quick retries for what may pass (network, 429, 5xx); a 4xx is final. */
  async function publish(message: NtfyPublish): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.publish(message, tokens.publish);
        return;
      } catch (err) {
        if (!(err instanceof NtfyError) || !err.transient || attempt >= ATTEMPTS) throw err;
        const wait = Math.max((err.retryAfterS ?? 0) * 1000, (deps.retryDelayMs ?? 500) * 2 ** (attempt - 1));
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  function approver(name: string | null): ApproverConfig {
    const a = name === null ? undefined : byName.get(name);
    if (!a) throw new AirlockError('airlock:ntfy-approver', `no ntfy approver named ${JSON.stringify(name)}`, { hint: 'The approvers changed since the request was made; decide with `airlock approve|deny RUN`.' });
    return a;
  }

  return {
    name: 'ntfy',
    config,
    client,
    tokens,
    approvers: () => config.approvers.map((a) => a.name),

    listen(listenDeps) {
      return listenForReplies({ ...listenDeps, channel: this as NtfyChannel });
    },

    async deliver(run: Run, requests, expiresAt: Date, phase: RequestPhase, text) {
      await deps.gate?.ensureClosed();
      const failures: string[] = [];
      let lockedOut = false;
      for (const { approver: name, token } of requests) {
        try {
          const a = approver(name);
          const reply = { server: config.url, replyTopic: a.replyTopic, replyToken: tokens.replies.get(a.name)! };
          const request = buildRequest(text, a.notifyTopic, reply, token, phase, { drift: run.kind === 'drift' });
          // With passkey approvals on, a "Review" link opens the approval page (passkey-review.ts).
          const review = deps.review?.(run, a.name, token, reply, phase, expiresAt, text);
          await publish(review ? { ...request, actions: [review, ...(request.actions ?? [])] } : request);
          log.info({ runId: run.id, approver: a.name, phase, topic: a.notifyTopic }, 'approval request published');
        } catch (err) {
          lockedOut ||= err instanceof NtfyError && err.authLockout;
          failures.push(`${name}: ${(err as Error).message}`);
        }
      }
      if (failures.length > 0) {
        throw new AirlockError('airlock:ntfy-deliver', `could not publish the request to ${failures.length} of ${requests.length} approver(s): ${failures.join('; ')}`, {
          hint: `${lockedOut ? `${AUTH_LOCKOUT_HINT} ` : 'Run `airlock doctor`; '}meanwhile decide with \`airlock approve|deny RUN\` on the runner host.`,
        });
      }
    },

    async announce(run: Run, outcome: string) {
      for (const a of config.approvers) {
        const message = buildOutcome(run, outcome, a.notifyTopic);
        if (!message) return;
        await publish(message).catch((err: unknown) => log.warn({ err, runId: run.id, approver: a.name, outcome }, 'could not publish the follow-up'));
      }
    },

    async notice(title: string, message: string) {
      for (const a of config.approvers) {
        await publish(buildNotice(title, message, a.notifyTopic)).catch((err: unknown) => log.warn({ err, approver: a.name }, 'could not publish the notice'));
      }
    },

    async notifyRefusal(name: string, run: Run, reason: string) {
      await publish(buildRefusal(run, reason, approver(name).notifyTopic));
    },
  };
}
