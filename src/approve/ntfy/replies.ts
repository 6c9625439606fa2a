// Replies heard on the reply topics become decisions: the topic names the approver (a reply topic is one
// approver's), the body names the nonce and the decision, and the approval service does every check.
// A refused tap tied to a known run gets one short note back, so a cleared notification is never mistaken
// for a decision that counted.
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { Run } from '../../run/run.ts';
import type { ApprovalService } from '../approval-service.ts';
import { hashToken } from '../approve.ts';
import { ApprovalRefusedError } from '../errors.ts';
import type { NtfyChannel } from './channel.ts';
import type { NtfyEvent } from '../../ntfy/client.ts';
import { parseReply } from '../reply.ts';
import { splitPasskeyReply } from '../passkey/reply.ts';
import { ReplyCursor } from './reply-cursor.ts';
import { ReplyWatermark } from './reply-watermark.ts';
import { createReplyListener, type ReplyListener } from './reply-listener.ts';

const TOLD_LIMIT = 1000;

export interface ReplyHandlerDeps {
  channel: NtfyChannel;
  approvals: Pick<ApprovalService, 'decide' | 'reject'>;
  findRun(id: string): Promise<Run | null>;
  log: Logger;
  /**
   * With several runners on one Redis every runner hears every reply; only the runner that planned the run
   * decides on it (it holds the plan file and the audit chain the apply checks). Others stay silent.
   */
  ownsReply?(nonce: string): Promise<boolean>;
  /** How old a reply can be and still answer a live request (open-channel.ts replyWindowMs). */
  replyWindowMs?: number;
}

/** Turn one reply message into a decision (or an audited refusal). Throws only when it could not be handled. */
export function createReplyHandler(deps: ReplyHandlerDeps) {
  const byTopic = new Map(deps.channel.config.approvers.map((a) => [a.replyTopic, a]));
  const told = new Set<string>();

  async function tellOnce(approver: string, nonce: string, err: ApprovalRefusedError): Promise<void> {
    const key = hashToken(nonce);
    if (err.runId === null || told.has(key)) return;
    told.add(key);
    if (told.size > TOLD_LIMIT) told.delete(told.values().next().value!);
    const run = await deps.findRun(err.runId);
    if (run) await deps.channel.notifyRefusal(approver, run, err.reason).catch((e: unknown) => deps.log.warn({ err: e, runId: run.id }, 'could not tell the approver'));
  }

  return async (topic: string, message: NtfyEvent): Promise<void> => {
    const approver = byTopic.get(topic);
    if (!approver) return;
    const via = { topic, messageId: String(message.id) };
    // No live request is older than the reply window: an older reply (a resumed stream, a cursor someone
    // rewound in Redis) can only be a replay, so it is not even looked at.
    if (deps.replyWindowMs !== undefined && typeof message.time === 'number' && message.time * 1000 < Date.now() - deps.replyWindowMs) {
      deps.log.warn({ topic, messageId: via.messageId, time: message.time }, 'ignored a reply older than any live request (replayed?)');
      return;
    }
    const by = { kind: 'human' as const, id: approver.name };
    const split = splitPasskeyReply(message.message);
    const reply = 'invalid' in split ? split : parseReply(split.tap);
    if (reply === 'probe') {
      deps.log.info({ topic }, 'reply topic check from `airlock doctor` received');
      return;
    }
    if ('invalid' in reply) {
      await deps.approvals.reject({ by, channel: 'ntfy', approver: approver.name, via }, `malformed reply: ${reply.invalid}`);
      return;
    }
    if (deps.ownsReply && !(await deps.ownsReply(reply.nonce))) {
      deps.log.debug({ topic }, 'reply for a run planned by another runner; left to that runner');
      return;
    }
    try {
      const passkey = 'passkey' in split ? split.passkey : undefined;
      const run = await deps.approvals.decide({ decision: reply.decision, token: reply.nonce, by, channel: 'ntfy', approver: approver.name, via, ...(passkey ? { passkey } : {}) });
      deps.log.info({ runId: run.id, approver: approver.name, decision: reply.decision, state: run.state, phase: run.approval?.phase }, 'reply counted');
    } catch (err) {
      if (!(err instanceof ApprovalRefusedError)) throw err;
      await tellOnce(approver.name, reply.nonce, err);
    }
  };
}

/** Start listening on every approver's reply topic with the subscriber token. */
export function listenForReplies(deps: ReplyHandlerDeps & { redis: Redis; prefix: string; replyWindowMs: number }): ReplyListener {
  const { channel } = deps;
  const listener = createReplyListener({
    client: channel.client,
    token: channel.tokens.subscribe,
    topics: channel.config.approvers.map((a) => a.replyTopic),
    cursor: new ReplyCursor(deps.redis, deps.prefix, deps.log),
    watermark: new ReplyWatermark(deps.redis, deps.prefix, deps.log),
    // No cursor yet: only replies young enough to answer a live request can matter.
    firstSince: () => String(Math.floor((Date.now() - deps.replyWindowMs) / 1000)),
    handle: createReplyHandler(deps),
    accepts: async (_topic, message) => {
      if (!deps.ownsReply) return true;
      // Malformed replies and probes are anyone's to handle (once); a decision only the planner's.
      const split = splitPasskeyReply(message.message);
      const reply = 'invalid' in split ? split : parseReply(split.tap);
      return reply === 'probe' || 'invalid' in reply || deps.ownsReply(reply.nonce);
    },
    log: deps.log,
    keepaliveTimeoutMs: channel.config.keepaliveTimeout,
  });
  listener.start();
  return listener;
}
