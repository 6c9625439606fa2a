// Listening for replies over connections the runner opens itself. ntfy allows 30 subscriptions per
// address (server/visitor.go), so the reply topics share `/t1,t2,…/json` streams, a few dozen topics each.
// After any break a stream resumes from the oldest reply time handled on its topics (reply-watermark.ts),
// so no reply is missed; each message is claimed before it is handled and marked done after, so what
// comes again (the margin, a resubscribe race on the server) is handled once. Nothing listens on a port.
import type { Logger } from 'pino';
import { visibleText } from '../../lib/untrusted-text.ts';
import { NtfyError } from '../errors.ts';
import type { NtfyClient, NtfyEvent } from '../../ntfy/client.ts';
import type { ReplyCursor } from './reply-cursor.ts';
import type { ReplyWatermark } from './reply-watermark.ts';

export interface ReplyListenerDeps {
  client: NtfyClient;
  /** The read-only subscriber token. */
  token: string;
  topics: string[];
  cursor: ReplyCursor;
  watermark: ReplyWatermark;
  /** Where a topic never handled starts: a unix time, or a `since=` keyword. */
  firstSince(): string;
  /** Handle one reply message; a throw means "not handled": the message is read again after a reconnect. */
  handle(topic: string, message: NtfyEvent): Promise<void>;
  /**
   * Whether this process is the one to handle the message (several runners on one Redis hear every reply;
   * only the one that planned the run decides). A message another runner will handle is neither claimed
   * nor marked done here: the claims are shared, so a claim by a runner that only skips it would lose it.
   */
  accepts?(topic: string, message: NtfyEvent): Promise<boolean>;
  log: Logger;
  /** No line (not even a keepalive) for this long: the stream is dead, reconnect. */
  keepaliveTimeoutMs: number;
  backoff?: { initialMs?: number; maxMs?: number; forbiddenMs?: number; rateLimitedMs?: number };
}

export type ReplyListener = ReturnType<typeof createReplyListener>;

// Topics per stream: the joined names stay under this many characters, well inside what proxies take
// in a request line (nginx: 8 KiB), so each stream carries a few dozen topics.
const MAX_TOPICS_CHARS = 2000;
// Resume this far before the newest handled reply: a reply delivered out of time order is not skipped.
const RESUME_MARGIN_S = 60;
// Never replay further back than this: the claims that make a replay harmless live 48 h.
const MAX_REPLAY_S = 24 * 3600;

/** Split topics into streams whose joined names (`a,b,c`) stay within `maxChars`. */
export function groupTopics(topics: readonly string[], maxChars = MAX_TOPICS_CHARS): string[][] {
  const groups: string[][] = [];
  let current: string[] = [];
  let length = 0;
  for (const t of topics) {
    if (current.length > 0 && length + 1 + t.length > maxChars) {
      groups.push(current);
      current = [];
      length = 0;
    }
    length += (current.length > 0 ? 1 : 0) + t.length;
    current.push(t);
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** Start streams for every reply topic; `stop()` closes them. */
export function createReplyListener(deps: ReplyListenerDeps) {
  const initialMs = deps.backoff?.initialMs ?? 500;
  const maxMs = deps.backoff?.maxMs ?? 30_000;
  const forbiddenMs = deps.backoff?.forbiddenMs ?? 60_000;
  const rateLimitedMs = deps.backoff?.rateLimitedMs ?? 5_000;
  const stopping = new AbortController();
  const streams = new Map<string, AbortController>();
  const open = new Set<string>();
  const waiters: Array<() => void> = [];
  let loops: Array<Promise<void>> = [];

  function setOpen(group: readonly string[], isOpen: boolean): void {
    for (const topic of group) {
      if (isOpen) open.add(topic);
      else open.delete(topic);
    }
    if (open.size === deps.topics.length) for (const w of waiters.splice(0)) w();
  }

  /** The stream's `since`: the oldest newest-handled time of its topics, less a margin, at most a day back. */
  async function sinceFor(group: readonly string[]): Promise<string> {
    const marks = await deps.watermark.get(group);
    const first = deps.firstSince();
    const neverHandled = group.some((t) => !marks.has(t));
    if (neverHandled && !/^\d+$/.test(first)) return first;
    const times = [...marks.values()].map((t) => t - RESUME_MARGIN_S);
    if (neverHandled) times.push(Number(first));
    return String(Math.max(Math.floor(Date.now() / 1000) - MAX_REPLAY_S, Math.min(...times)));
  }

  async function handleMessage(group: readonly string[], event: NtfyEvent): Promise<void> {
    const id = typeof event.id === 'string' ? event.id : null;
    const topic = typeof event.topic === 'string' ? event.topic : '';
    if (id === null || !/^[-_A-Za-z0-9]{1,64}$/.test(id)) {
      deps.log.warn({ topic: visibleText(topic, 80) }, 'ignored a reply message without a valid id');
      return;
    }
    if (!group.includes(topic)) {
      deps.log.warn({ topic: visibleText(topic, 80), messageId: id }, 'ignored a message for a topic this stream did not ask for');
      return;
    }
    if (deps.accepts && !(await deps.accepts(topic, event))) {
      deps.log.debug({ topic, messageId: id }, 'reply for a run planned by another runner; left to that runner');
      return;
    }
    if (!(await deps.cursor.claim(topic, id))) {
      deps.log.debug({ topic, messageId: id }, 'reply already handled');
      return;
    }
    try {
      await deps.handle(topic, event);
    } catch (err) {
      await deps.cursor.release(topic, id).catch(() => undefined);
      throw err;
    }
    await deps.cursor.done(topic, id);
    if (typeof event.time === 'number' && Number.isFinite(event.time)) await deps.watermark.advance(topic, event.time);
  }

  /** How long to wait before the next attempt, and what to say about the failure. */
  function afterFailure(topics: string, err: unknown, delay: number): number {
    if (err instanceof NtfyError && err.authLockout) {
      deps.log.error({ err, topics, event: 'ntfy.auth_lockout' }, `ntfy refuses the reply stream: this address is locked out after too many failed logins (42909), valid tokens included. Replies are not heard until it passes. ${err.hint}`);
      return forbiddenMs;
    }
    if (err instanceof NtfyError && (err.status === 401 || err.status === 403)) {
      deps.log.error({ err, topics }, `cannot subscribe to the reply topics ${topics}: ${err.message}. Replies are not heard until this is fixed; \`airlock doctor\` shows the ACL the subscriber token needs`);
      return forbiddenMs;
    }
    if (err instanceof NtfyError && err.ntfyCode === 42903) {
      deps.log.error({ err, topics }, `ntfy refuses another subscription from this address (42903). ${err.hint}`);
      return forbiddenMs;
    }
    if (err instanceof NtfyError && err.status === 429) {
      deps.log.warn({ topics, retryAfterS: err.retryAfterS, ntfyCode: err.ntfyCode }, 'ntfy is rate limiting the reply stream; backing off');
      return Math.max((err.retryAfterS ?? 0) * 1000, delay, rateLimitedMs);
    }
    deps.log.warn({ err, topics }, 'reply stream broke; reconnecting');
    return delay;
  }

  async function listen(group: readonly string[]): Promise<void> {
    const topics = group.join(',');
    let delay = initialMs;
    while (!stopping.signal.aborted) {
      const stream = new AbortController();
      streams.set(topics, stream);
      let watchdog = setTimeout(() => stream.abort(), deps.keepaliveTimeoutMs);
      const kick = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => {
          deps.log.warn({ topics }, 'reply stream silent past the keepalive timeout; reconnecting');
          stream.abort();
        }, deps.keepaliveTimeoutMs);
      };
      let wait = delay;
      let opened = false;
      try {
        const since = await sinceFor(group);
        await deps.client.stream(group, deps.token, {
          since,
          signal: stream.signal,
          onGarbage: (line) => {
            kick();
            deps.log.warn({ topics, line: visibleText(line, 120) }, 'ignored a line on the reply stream that is not an ntfy event');
          },
          onEvent: async (event) => {
            kick();
            if (event.event === 'open') {
              opened = true;
              delay = initialMs;
              setOpen(group, true);
              deps.log.info({ topics, since }, 'listening for replies');
            } else if (event.event === 'message') {
              await handleMessage(group, event);
            } else if (event.event !== 'keepalive') {
              // Newer servers add event types (poll_request, message_delete…): not ours to act on.
              deps.log.debug({ topics, event: visibleText(event.event, 40) }, 'ignored an unknown ntfy event type');
            }
          },
        });
        if (!stopping.signal.aborted) deps.log.warn({ topics }, 'the server closed the reply stream; reconnecting');
        wait = opened ? initialMs : delay;
      } catch (err) {
        if (stopping.signal.aborted) break;
        wait = stream.signal.aborted ? delay : afterFailure(topics, err, delay);
      } finally {
        clearTimeout(watchdog);
        setOpen(group, false);
        streams.delete(topics);
      }
      if (!opened) delay = Math.min(delay * 2, maxMs);
      await sleep(wait * (0.75 + Math.random() * 0.5), stopping.signal);
    }
  }

  return {
    /** The streams this listener keeps open: a few dozen topics each. */
    groups: groupTopics(deps.topics),
    start(): void {
      loops = this.groups.map((group) => listen(group).catch((err: unknown) => deps.log.error({ err, topics: group.join(',') }, 'reply listener stopped unexpectedly')));
    },
    /** Whether every reply topic has an open stream right now. */
    connected(): boolean {
      return open.size === deps.topics.length;
    },
    /** Resolves once every reply topic has an open stream. */
    async waitConnected(): Promise<void> {
      if (open.size === deps.topics.length) return;
      await new Promise<void>((resolve) => waiters.push(resolve));
    },
    async stop(): Promise<void> {
      stopping.abort();
      for (const s of streams.values()) s.abort();
      await Promise.all(loops);
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
