// The message cache and `since=`, as server/message_cache.go and server.go (parseSince) have them. A
// message id is looked up across all topics (selectRowIDFromMessageID, "Do not include topic") and each
// topic then returns its messages after that row; an unknown id returns everything. Durations are Go's
// (time.ParseDuration: `90s`, `1h30m`; no `d`). Messages of several topics are ordered by time only.
import { randomBytes } from 'node:crypto';
import { ERRORS, HttpError } from './errors.ts';

export interface StoredMessage {
  id: string;
  time: number;
  expires?: number;
  event: 'message';
  topic: string;
  message: string;
  title?: string;
  priority?: number;
  tags?: string[];
  click?: string;
  actions?: Array<Record<string, unknown>>;
  content_type?: string;
  attachment?: Record<string, unknown>;
}

const MESSAGE_ID = /^[A-Za-z0-9]{12}$/;
const UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, μs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** Seconds in a Go duration string, or null when time.ParseDuration would refuse it. */
export function parseGoDuration(text: string): number | null {
  const m = /^([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+|0)$/.exec(text);
  if (!m) return null;
  let seconds = 0;
  for (const part of m[2]!.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) seconds += Number(part[1]) * UNITS[part[2]!]!;
  return m[1] === '-' ? -seconds : seconds;
}

export class MessageCache {
  #rows: Array<{ rowid: number; message: StoredMessage }> = [];
  #next = 1;

  add(message: StoredMessage): void {
    this.#rows.push({ rowid: this.#next++, message });
  }

  /** Every live message of one topic, oldest first. */
  topic(topic: string): StoredMessage[] {
    return this.#live().filter((m) => m.topic === topic);
  }

  /** The cached messages `since` asks for, across `topics` (sendOldMessages). */
  since(topics: string[], since: string): StoredMessage[] {
    const per = (topic: string): StoredMessage[] => {
      const rows = this.#rowsOf(topic);
      if (since === 'all') return rows.map((r) => r.message);
      if (since === 'latest') return rows.slice(-1).map((r) => r.message);
      if (MESSAGE_ID.test(since)) {
        const at = this.#rows.find((r) => r.message.id === since)?.rowid;
        return rows.filter((r) => at === undefined || r.rowid > at).map((r) => r.message);
      }
      const from = /^\d+$/.test(since) ? Number(since) : Math.floor(Date.now() / 1000 - parseGoDuration(since)!);
      return rows.filter((r) => r.message.time >= from).map((r) => r.message);
    };
    return topics.flatMap(per).sort((a, b) => a.time - b.time);
  }

  #rowsOf(topic: string) {
    const now = Date.now() / 1000;
    return this.#rows.filter((r) => r.message.topic === topic && (r.message.expires ?? Infinity) > now);
  }

  #live(): StoredMessage[] {
    const now = Date.now() / 1000;
    return this.#rows.map((r) => r.message).filter((m) => (m.expires ?? Infinity) > now);
  }
}

/** Check a `since=` value the way parseSince does: `none`, `all`, `latest`, an id, a unix time, a duration. */
export function validateSince(since: string): void {
  if (['none', 'all', 'latest'].includes(since) || MESSAGE_ID.test(since) || /^\d+$/.test(since) || parseGoDuration(since) !== null) return;
  throw new HttpError(ERRORS.invalidSince);
}

/** A random id of ntfy's alphabet (util.RandomString): messages, actions, events. */
export function randomId(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(length), (b) => alphabet[b % alphabet.length]).join('');
}
