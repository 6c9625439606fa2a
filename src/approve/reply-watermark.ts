// Where a reply stream resumes. One stream carries many reply topics (ntfy allows 30 subscriptions per
// address), and `since=` takes one value for all of them: the newest message time handled on each topic,
// kept in Redis under the runner's prefix, gives the stream's resume point (the oldest of them, less a
// margin). What comes again is dropped by the per-message claims (reply-cursor.ts).
import type { Redis } from 'ioredis';
import { RedisInputError, reportQuarantine, type QuarantineLog } from '../lib/redis-input.ts';

const TTL_S = 48 * 3600; // as long as the claims that make a replay harmless
const SKEW_S = 300; // a mark may be this far ahead of our clock (the ntfy server's clock differs)

/** Per reply topic, the newest message time handled, under `<prefix>:ntfy:handled-at:<topic>`. */
export class ReplyWatermark {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    private readonly log?: QuarantineLog,
  ) {}

  #key(topic: string): string {
    return `${this.prefix}:ntfy:handled-at:${topic}`;
  }

  /** The newest message time (unix seconds) handled per topic; topics never handled are left out. */
  async get(topics: readonly string[]): Promise<Map<string, number>> {
    const values = topics.length ? await this.redis.mget(topics.map((t) => this.#key(t))) : [];
    const out = new Map<string, number>();
    topics.forEach((t, i) => {
      const raw = values[i];
      if (raw === null || raw === undefined) return;
      // Read back from Redis: a mark in the future would make the stream skip every new reply. Not ours: quarantined.
      if (/^\d{1,12}$/.test(raw) && Number(raw) <= Date.now() / 1000 + SKEW_S) out.set(t, Number(raw));
      else reportQuarantine(this.log, new RedisInputError('reply watermark', this.#key(t), [`${JSON.stringify(raw.slice(0, 40))} is not a past unix time`]));
    });
    return out;
  }

  /** A message of `topic` sent at `time` is handled; the mark only moves forward. */
  async advance(topic: string, time: number): Promise<void> {
    const key = this.#key(topic);
    const current = Number(await this.redis.get(key));
    if (Number.isFinite(current) && current >= time) return;
    await this.redis.set(key, String(time), 'EX', TTL_S);
  }
}
