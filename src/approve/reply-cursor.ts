// Where the reply listener is in each reply topic, kept in Redis under the runner's prefix: the last
// message id handled (to resume with `since=`), and a claim per message so that a message seen twice
// (a resumed stream, a second runner replica) is handled once.
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { parseRedisValue, type QuarantineLog } from '../lib/redis-input.ts';

const DONE_TTL_S = 48 * 3600; // longer than ntfy's default 12 h cache: a replayed cache never runs twice
const CLAIM_TTL_MS = 30_000; // a claim whose holder died frees itself; the stream re-reads the message

/** An ntfy message id as the listener accepts them (reply-listener.ts). */
const messageIdSchema = z
  .string()
  .regex(/^[-_A-Za-z0-9]{1,64}$/, 'must be an ntfy message id')
  .refine((v) => !['all', 'latest', 'none'].includes(v) && !/^\d+[smhd]?$/.test(v), 'must be a message id, not another `since=` value');

export class ReplyCursor {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    private readonly log?: QuarantineLog,
  ) {}

  #cursorKey(topic: string): string {
    return `${this.prefix}:ntfy:cursor:${topic}`;
  }

  #messageKey(topic: string, id: string): string {
    return `${this.prefix}:ntfy:reply:${topic}:${id}`;
  }

  /**
   * The last message id handled on `topic`, or null before the first. A value that is not a message id
   * is quarantined and ignored: it must never reach the `since=` of a request. A cursor rewound to a real
   * old id only replays replies, which are refused (reply age, spent nonces, sealed bindings).
   */
  async last(topic: string): Promise<string | null> {
    const key = this.#cursorKey(topic);
    const raw = await this.redis.get(key);
    return raw === null ? null : parseRedisValue(messageIdSchema, raw, { kind: 'reply cursor', key, log: this.log });
  }

  /** Take a message for handling; false when it was handled already or someone is handling it. */
  async claim(topic: string, id: string): Promise<boolean> {
    return (await this.redis.set(this.#messageKey(topic, id), 'claimed', 'PX', CLAIM_TTL_MS, 'NX')) === 'OK';
  }

  /** The message is handled: never handle it again, and resume after it. */
  async done(topic: string, id: string): Promise<void> {
    await this.redis.multi().set(this.#messageKey(topic, id), 'done', 'EX', DONE_TTL_S).set(this.#cursorKey(topic), id).exec();
  }

  /** Handling failed before it could count: let the next read of the stream try again. */
  async release(topic: string, id: string): Promise<void> {
    await this.redis.del(this.#messageKey(topic, id));
  }
}
