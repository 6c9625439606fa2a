// Listening for replies over connections the runner opens itself: one `/json` stream per reply topic,
// resumed with `since=<last id>` after any break, so no reply is missed; each message is claimed before it
// is handled and marked done after, so none is handled twice. Nothing here listens on a port.
import type { Logger } from 'pino';
import { visibleText } from '../plan/untrusted-text.ts';
import { NtfyError } from './errors.ts';
import type { NtfyClient, NtfyEvent } from './ntfy-client.ts';
import type { ReplyCursor } from './reply-cursor.ts';

export interface ReplyListenerDeps {
  client: NtfyClient;
  /** The read-only subscriber token. */
  token: string;
  topics: string[];
  cursor: ReplyCursor;
  /** Where a topic with no cursor yet starts (a `since=` value). */
  firstSince(): string;
  /** Handle one reply message; a throw means "not handled": the message is read again after a reconnect. */
  handle(topic: string, message: NtfyEvent): Promise<void>;
  log: Logger;
  /** No line (not even a keepalive) for this long: the stream is dead, reconnect. */
  keepaliveTimeoutMs: number;
  backoff?: { initialMs?: number; maxMs?: number; forbiddenMs?: number; rateLimitedMs?: number };
}

export type ReplyListener = ReturnType<typeof createReplyListener>;

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

  function setOpen(topic: string, isOpen: boolean): void {
    if (isOpen) open.add(topic);
    else open.delete(topic);
    if (open.size === deps.topics.length) for (const w of waiters.splice(0)) w();
  }

  async function handleMessage(topic: string, event: NtfyEvent): Promise<void> {
    const id = typeof event.id === 'string' ? event.id : null;
    if (id === null || !/^[-_A-Za-z0-9]{1,64}$/.test(id)) {
      deps.log.warn({ topic }, 'ignored a reply message without a valid id');
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
  }

  /** How long to wait before the next attempt, and what to say about the failure. */
  function afterFailure(topic: string, err: unknown, delay: number): number {
    if (err instanceof NtfyError && (err.status === 401 || err.status === 403)) {
      deps.log.error({ err, topic }, `cannot subscribe to reply topic ${topic}: ${err.message}. Replies are not heard until this is fixed; \`airlock doctor\` shows the ACL the subscriber token needs`);
      return forbiddenMs;
    }
    if (err instanceof NtfyError && err.status === 429) {
      deps.log.warn({ topic, retryAfterS: err.retryAfterS }, 'ntfy is rate limiting the reply stream; backing off');
      return Math.max((err.retryAfterS ?? 0) * 1000, delay, rateLimitedMs);
    }
    deps.log.warn({ err, topic }, 'reply stream broke; reconnecting');
    return delay;
  }

  async function listen(topic: string): Promise<void> {
    let delay = initialMs;
    while (!stopping.signal.aborted) {
      const stream = new AbortController();
      streams.set(topic, stream);
      let watchdog = setTimeout(() => stream.abort(), deps.keepaliveTimeoutMs);
      const kick = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => {
          deps.log.warn({ topic }, 'reply stream silent past the keepalive timeout; reconnecting');
          stream.abort();
        }, deps.keepaliveTimeoutMs);
      };
      let wait = delay;
      let opened = false;
      try {
        const since = (await deps.cursor.last(topic)) ?? deps.firstSince();
        await deps.client.stream(topic, deps.token, {
          since,
          signal: stream.signal,
          onGarbage: (line) => {
            kick();
            deps.log.warn({ topic, line: visibleText(line, 120) }, 'ignored a line on the reply stream that is not an ntfy event');
          },
          onEvent: async (event) => {
            kick();
            if (event.event === 'open') {
              opened = true;
              delay = initialMs;
              setOpen(topic, true);
              deps.log.info({ topic, since }, 'listening for replies');
            } else if (event.event === 'message') {
              await handleMessage(topic, event);
            } else if (event.event !== 'keepalive') {
              // Newer servers add event types (poll_request, message_delete…): not ours to act on.
              deps.log.debug({ topic, event: visibleText(event.event, 40) }, 'ignored an unknown ntfy event type');
            }
          },
        });
        if (!stopping.signal.aborted) deps.log.warn({ topic }, 'the server closed the reply stream; reconnecting');
        wait = opened ? initialMs : delay;
      } catch (err) {
        if (stopping.signal.aborted) break;
        wait = stream.signal.aborted ? delay : afterFailure(topic, err, delay);
      } finally {
        clearTimeout(watchdog);
        setOpen(topic, false);
        streams.delete(topic);
      }
      if (!opened) delay = Math.min(delay * 2, maxMs);
      await sleep(wait * (0.75 + Math.random() * 0.5), stopping.signal);
    }
  }

  return {
    start(): void {
      loops = deps.topics.map((topic) => listen(topic).catch((err: unknown) => deps.log.error({ err, topic }, 'reply listener stopped unexpectedly')));
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
