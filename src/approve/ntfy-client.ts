// The ntfy HTTP API, and the only code that speaks it: JSON publish to the server root, the `/json`
// stream and poll, and ntfy's JSON errors turned into NtfyError. Outbound requests only.
import { NtfyError } from './errors.ts';

export interface NtfyAction {
  action: 'http' | 'view' | 'broadcast';
  label: string;
  url?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  clear?: boolean;
}

/** A JSON publish request; only `topic` is required. */
export interface NtfyPublish {
  topic: string;
  title?: string;
  message?: string;
  priority?: 1 | 2 | 3 | 4 | 5;
  tags?: string[];
  actions?: NtfyAction[];
  markdown?: boolean;
}

/** One line of a `/json` stream or poll. Everything in it came over the network: check before use. */
export interface NtfyEvent {
  event: string;
  id?: string;
  time?: number;
  topic?: string;
  title?: string;
  message?: string;
  actions?: Array<NtfyAction & { id?: string }>;
  [k: string]: unknown;
}

export interface StreamOptions {
  since?: string;
  signal: AbortSignal;
  /** Called for every well-formed line, in order; the next line waits until it settles. */
  onEvent(event: NtfyEvent): Promise<void>;
  /** A line that is not a JSON event (or is too long); the stream goes on. */
  onGarbage?(line: string): void;
}

const MAX_LINE = 64 * 1024;
const MAX_ERROR_BODY = 2048;
const MAX_POLL_BODY = 8 * 1024 * 1024;
const PUBLISH_TIMEOUT_MS = 15_000;

export type NtfyClient = ReturnType<typeof createNtfyClient>;

/** A client for one ntfy server; every call names the token it uses, so each one has the least access. */
export function createNtfyClient(baseUrl: string) {
  const base = baseUrl.replace(/\/+$/, '');

  async function request(what: string, url: string, init: RequestInit): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(url, init);
    } catch (err) {
      if ((err as Error).name === 'AbortError' || init.signal?.aborted) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new NtfyError(what, 0, null, cause?.code ?? cause?.message ?? (err as Error).message, { cause: err });
    }
    if (!res.ok) throw await errorFrom(what, res);
    return res;
  }

  return {
    url: base,

    /** Publish one message as JSON to the server root; resolves with the stored message. */
    async publish(message: NtfyPublish, token: string, signal?: AbortSignal): Promise<NtfyEvent> {
      const res = await request(`publish to ${message.topic}`, `${base}/`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(message),
        signal: signal ?? AbortSignal.timeout(PUBLISH_TIMEOUT_MS),
      });
      return (await res.json()) as NtfyEvent;
    },

    /** The cached messages of a topic (`poll=1`): the stream's semantics without staying connected. */
    async poll(topic: string, token: string, since = 'all', signal?: AbortSignal): Promise<NtfyEvent[]> {
      const res = await request(`poll ${topic}`, `${base}/${topic}/json?poll=1&since=${encodeURIComponent(since)}`, {
        headers: { Authorization: `Bearer ${token}` },
        signal: signal ?? AbortSignal.timeout(PUBLISH_TIMEOUT_MS),
      });
      const text = await res.text();
      if (text.length > MAX_POLL_BODY) throw new NtfyError(`poll ${topic}`, res.status, null, 'response too large');
      return text
        .split('\n')
        .map(parseEvent)
        .filter((e): e is NtfyEvent => e !== null);
    },

    /** Subscribe to `/<topic>/json` until the server closes the stream or `signal` aborts it. */
    async stream(topic: string, token: string, opts: StreamOptions): Promise<void> {
      const since = opts.since ? `?since=${encodeURIComponent(opts.since)}` : '';
      const res = await request(`subscribe to ${topic}`, `${base}/${topic}/json${since}`, {
        headers: { Authorization: `Bearer ${token}` },
        signal: opts.signal,
      });
      if (!res.body) return;
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffered = '';
      let discarding = false;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          buffered += decoder.decode(value, { stream: true });
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            if (discarding) {
              discarding = false;
              continue;
            }
            if (line.trim() === '') continue;
            const event = parseEvent(line);
            if (event) await opts.onEvent(event);
            else opts.onGarbage?.(line);
          }
          if (buffered.length > MAX_LINE) {
            opts.onGarbage?.(buffered.slice(0, 200));
            buffered = '';
            discarding = true;
          }
        }
      } finally {
        reader.releaseLock();
        await res.body.cancel().catch(() => undefined);
      }
    },

    /** `GET /v1/health`: whether the server answers at all. */
    async health(signal?: AbortSignal): Promise<boolean> {
      const res = await request('health', `${base}/v1/health`, { signal: signal ?? AbortSignal.timeout(PUBLISH_TIMEOUT_MS) });
      const body = (await res.json().catch(() => null)) as { healthy?: boolean } | null;
      return body?.healthy === true;
    },
  };
}

function parseEvent(line: string): NtfyEvent | null {
  if (line.trim() === '') return null;
  try {
    const value: unknown = JSON.parse(line);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
    const event = value as NtfyEvent;
    return typeof event.event === 'string' ? event : null;
  } catch {
    return null;
  }
}

async function errorFrom(what: string, res: Response): Promise<NtfyError> {
  const text = (await res.text().catch(() => '')).slice(0, MAX_ERROR_BODY);
  let code: number | null = null;
  let detail = text.trim() || res.statusText;
  try {
    const body = JSON.parse(text) as { code?: unknown; error?: unknown };
    if (typeof body.code === 'number') code = body.code;
    if (typeof body.error === 'string') detail = body.error;
  } catch {
    // not JSON: a proxy's error page; keep the (short) text
  }
  const retryAfter = Number(res.headers.get('retry-after'));
  return new NtfyError(what, res.status, code, detail.slice(0, 300), { retryAfterS: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null });
}
