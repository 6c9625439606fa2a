// The ntfy HTTP API, and the only code that speaks it: JSON publish to the server root, the `/json`
// stream and poll (of one topic or several at once), access probes, and ntfy's JSON errors turned into
// NtfyError. Outbound requests only, each paced by the client's request budget (request-budget.ts).
import { NtfyError } from './errors.ts';
import { DEFAULT_BUDGET, RequestBudget, type BudgetConfig } from './request-budget.ts';

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

/** One topic, or several joined as ntfy takes them (`/t1,t2/json`). */
export type Topics = string | readonly string[];

const joined = (topics: Topics) => (typeof topics === 'string' ? topics : topics.join(','));
const bearer = (token: string | null): Record<string, string> => (token === null ? {} : { Authorization: `Bearer ${token}` });

/**
 * A client for one ntfy server; every call names the token it uses (null: anonymous), so each one has the
 * least access. `budget: null` when the server exempts this host from its request limit.
 */
export function createNtfyClient(baseUrl: string, options: { budget?: BudgetConfig | null } = {}) {
  const base = baseUrl.replace(/\/+$/, '');
  const budget = options.budget === null ? null : new RequestBudget(options.budget ?? DEFAULT_BUDGET);

  /** One request: first the budget (waiting as long as it takes), then the exchange, within 15 s unless `signal` says otherwise. */
  async function request(what: string, url: string, init: RequestInit, paced = true): Promise<Response> {
    let res: Response;
    try {
      if (paced) await budget?.take(init.signal ?? undefined);
      res = await fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(PUBLISH_TIMEOUT_MS) });
    } catch (err) {
      if ((err as Error).name === 'AbortError' || init.signal?.aborted) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new NtfyError(what, 0, null, cause?.code ?? cause?.message ?? (err as Error).message, { cause: err });
    }
    if (res.ok) return res;
    const error = await errorFrom(what, res);
    if (error.ntfyCode === 42901) budget?.drain();
    throw error;
  }

  /** Whether the server lets `token` (null: anyone) at `topic`: true on 2xx or `ifAllowed`, false on 403. */
  async function probe(what: string, url: string, init: RequestInit, ifAllowed: (e: NtfyError) => boolean): Promise<boolean> {
    try {
      await (await request(what, url, init)).arrayBuffer();
      return true;
    } catch (err) {
      if (err instanceof NtfyError && err.status === 403) return false;
      if (err instanceof NtfyError && ifAllowed(err)) return true;
      throw err;
    }
  }

  return {
    url: base,
    budget,

    /** Publish one message as JSON to the server root; resolves with the stored message. */
    async publish(message: NtfyPublish, token: string | null, signal?: AbortSignal): Promise<NtfyEvent> {
      const res = await request(`publish to ${message.topic}`, `${base}/`, {
        method: 'POST',
        headers: { ...bearer(token), 'Content-Type': 'application/json' },
        body: JSON.stringify(message),
        ...(signal ? { signal } : {}),
      });
      return (await res.json()) as NtfyEvent;
    },

    /** The cached messages of topics (`poll=1`): the stream's semantics without staying connected. */
    async poll(topics: Topics, token: string, since = 'all', signal?: AbortSignal): Promise<NtfyEvent[]> {
      const res = await request(`poll ${joined(topics)}`, `${base}/${joined(topics)}/json?poll=1&since=${encodeURIComponent(since)}`, {
        headers: bearer(token),
        ...(signal ? { signal } : {}),
      });
      const text = await res.text();
      if (text.length > MAX_POLL_BODY) throw new NtfyError(`poll ${joined(topics)}`, res.status, null, 'response too large');
      return text
        .split('\n')
        .map(parseEvent)
        .filter((e): e is NtfyEvent => e !== null);
    },

    /** Subscribe to `/<topics>/json` (one subscription, however many topics) until it closes or `signal` aborts. */
    async stream(topics: Topics, token: string, opts: StreamOptions): Promise<void> {
      const since = opts.since ? `?since=${encodeURIComponent(opts.since)}` : '';
      const res = await request(`subscribe to ${joined(topics)}`, `${base}/${joined(topics)}/json${since}`, {
        headers: bearer(token),
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

    /** Publish `body` to `/<topic>` as a phone's http action does (the body is the message). */
    async post(topic: string, body: string, token: string | null, signal?: AbortSignal): Promise<NtfyEvent> {
      const res = await request(`post to ${topic}`, `${base}/${topic}`, { method: 'POST', headers: bearer(token), body, ...(signal ? { signal } : {}) });
      return (await res.json()) as NtfyEvent;
    },

    /** Whether `token` (null: anyone) may read `topic`: a poll of nothing (`since=none`). */
    async canRead(topic: string, token: string | null, signal?: AbortSignal): Promise<boolean> {
      return probe(`read check on ${topic}`, `${base}/${topic}/json?poll=1&since=none`, { headers: bearer(token), ...(signal ? { signal } : {}) }, () => false);
    },

    /**
     * Whether `token` (null: anyone) may write `topic`, without storing anything: ntfy checks the grant
     * before it parses the message, so an invalid priority is 403 without write access and 400 (40007)
     * with it. `body` is what a server that took the message anyway would store.
     */
    async canWrite(topic: string, token: string | null, body: string, signal?: AbortSignal): Promise<boolean> {
      return probe(`write check on ${topic}`, `${base}/${topic}`, { method: 'POST', headers: { ...bearer(token), 'X-Priority': '9' }, body, ...(signal ? { signal } : {}) }, (e) => e.status === 400);
    },

    /** `GET /v1/health`: whether the server answers at all (not counted by ntfy's request limit). */
    async health(signal?: AbortSignal): Promise<boolean> {
      const res = await request('health', `${base}/v1/health`, signal ? { signal } : {}, false);
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
