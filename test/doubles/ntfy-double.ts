// An in-process ntfy server for tests, written from reference/protocols.md (ntfy): JSON publish to the
// root, `/<topic>/json` streams and polls with `since=`, the message cache, bearer tokens with per-topic
// ACLs (deny-all by default), rate limits, and switches to drop or refuse subscriber connections.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Access = 'read-write' | 'read-only' | 'write-only' | 'deny';

export interface AclEntry {
  /** A user name, or '*' for everyone (including anonymous). */
  user: string;
  /** A topic, or a pattern with '*' wildcards. */
  topic: string;
  access: Access;
}

export interface NtfyDoubleOptions {
  /** token → user name */
  tokens?: Record<string, string>;
  acl?: AclEntry[];
  defaultAccess?: 'deny-all' | 'read-write';
  keepaliveMs?: number;
  cacheDurationMs?: number;
}

export interface StoredMessage {
  id: string;
  time: number;
  expires: number;
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

interface Subscriber {
  topics: string[];
  res: ServerResponse;
  keepalive: NodeJS.Timeout;
}

const TOPIC = /^[-_A-Za-z0-9]{1,64}$/;
const MESSAGE_ID = /^[-_A-Za-z0-9]{12}$/;
const MAX_MESSAGE_BYTES = 4096;
const ERRORS = {
  invalidSince: { code: 40008, http: 400, error: 'invalid since parameter', link: 'https://ntfy.sh/docs/subscribe/api/#fetch-cached-messages' },
  invalidTopic: { code: 40009, http: 400, error: 'invalid request: topic invalid' },
  invalidJson: { code: 40017, http: 400, error: 'invalid request: request body must be message JSON', link: 'https://ntfy.sh/docs/publish/#publish-as-json' },
  invalidActions: { code: 40018, http: 400, error: 'invalid request: actions invalid', link: 'https://ntfy.sh/docs/publish/#action-buttons' },
  invalidPriority: { code: 40007, http: 400, error: 'invalid priority parameter', link: 'https://ntfy.sh/docs/publish/#message-priority' },
  unauthorized: { code: 40101, http: 401, error: 'unauthorized', link: 'https://ntfy.sh/docs/publish/#authentication' },
  forbidden: { code: 40301, http: 403, error: 'forbidden', link: 'https://ntfy.sh/docs/publish/#authentication' },
  notFound: { code: 40401, http: 404, error: 'page not found' },
  tooManyRequests: { code: 42901, http: 429, error: 'limit reached: too many requests, please be nice', link: 'https://ntfy.sh/docs/publish/#limitations' },
} as const;

class HttpError extends Error {
  constructor(readonly body: { code: number; http: number; error: string; link?: string }, readonly detail?: string) {
    super(body.error);
  }
}

/** Start the double on 127.0.0.1:0. */
export async function startNtfyDouble(options: NtfyDoubleOptions = {}) {
  const tokens = new Map(Object.entries(options.tokens ?? {}));
  const acl: AclEntry[] = [...(options.acl ?? [])];
  let defaultAccess = options.defaultAccess ?? 'deny-all';
  let keepaliveMs = options.keepaliveMs ?? 45_000;
  const cacheDurationMs = options.cacheDurationMs ?? 12 * 3600_000;
  const cache: StoredMessage[] = [];
  const subscribers = new Set<Subscriber>();
  const sockets = new Set<Socket>();
  const requests: Array<{ method: string; path: string; query: Record<string, string>; user: string | null; status: number }> = [];
  let blockSubscriptions = false;
  let limiter: { burst: number; replenishMs: number; buckets: Map<string, { tokens: number; at: number }> } | null = null;

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const body = err instanceof HttpError ? err.body : { code: 50001, http: 500, error: 'internal server error' };
      const error = err instanceof HttpError && err.detail ? `${body.error}, ${err.detail}` : body.error;
      record(req, null, body.http);
      if (!res.headersSent) {
        res.writeHead(body.http, { 'Content-Type': 'application/json' });
        res.end(`${JSON.stringify({ ...body, error })}\n`);
      } else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function record(req: IncomingMessage, user: string | null, status: number): void {
    const u = new URL(req.url ?? '/', url);
    requests.push({ method: req.method ?? 'GET', path: u.pathname, query: Object.fromEntries(u.searchParams), user, status });
  }

  /** The user behind the request: null for anonymous; 401 for an unknown token. */
  function authenticate(req: IncomingMessage, query: URLSearchParams): string | null {
    let header = req.headers['authorization'];
    const auth = query.get('auth');
    if (!header && auth) header = Buffer.from(auth, 'base64url').toString('utf8');
    if (!header) return null;
    const bearer = /^Bearer\s+(\S+)$/i.exec(header);
    const basic = /^Basic\s+(\S+)$/i.exec(header);
    let token: string | undefined;
    if (bearer) token = bearer[1];
    else if (basic) token = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':').slice(1).join(':'); // ":tk_…" form
    const user = token === undefined ? undefined : tokens.get(token);
    if (user === undefined) throw new HttpError(ERRORS.unauthorized);
    return user;
  }

  function allowed(user: string | null, topic: string, want: 'read' | 'write'): boolean {
    const entries = [...acl.filter((e) => user !== null && e.user === user), ...acl.filter((e) => e.user === '*')];
    // Exact topics beat patterns, as in ntfy.
    const match =
      entries.find((e) => e.topic === topic) ??
      entries.find((e) => e.topic.includes('*') && new RegExp(`^${e.topic.split('*').map(escapeRegExp).join('.*')}$`).test(topic));
    const access: Access = match?.access ?? (defaultAccess === 'read-write' ? 'read-write' : 'deny');
    if (access === 'read-write') return true;
    if (access === 'deny') return false;
    return want === 'read' ? access === 'read-only' : access === 'write-only';
  }

  function authorize(user: string | null, topic: string, want: 'read' | 'write'): void {
    if (!allowed(user, topic, want)) throw new HttpError(ERRORS.forbidden);
  }

  function rateLimit(key: string): void {
    if (!limiter) return;
    const now = Date.now();
    const bucket = limiter.buckets.get(key) ?? { tokens: limiter.burst, at: now };
    const refill = Math.floor((now - bucket.at) / limiter.replenishMs);
    if (refill > 0) {
      bucket.tokens = Math.min(limiter.burst, bucket.tokens + refill);
      bucket.at += refill * limiter.replenishMs;
    }
    limiter.buckets.set(key, bucket);
    if (bucket.tokens <= 0) throw new HttpError(ERRORS.tooManyRequests);
    bucket.tokens -= 1;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', url);
    const path = u.pathname;
    if (req.method === 'GET' && path === '/v1/health') return sendJson(req, res, null, { healthy: true });
    const user = authenticate(req, u.searchParams);
    rateLimit(user ?? req.socket.remoteAddress ?? 'anon');
    if ((req.method === 'POST' || req.method === 'PUT') && path === '/') return publishJson(req, res, user);
    const stream = /^\/([^/]+)\/json$/.exec(path);
    if (req.method === 'GET' && stream) return subscribe(req, res, user, stream[1]!.split(','), u.searchParams);
    const topicPath = /^\/([^/]+)\/?$/.exec(path);
    if ((req.method === 'POST' || req.method === 'PUT') && topicPath) return publishBody(req, res, user, topicPath[1]!);
    throw new HttpError(ERRORS.notFound);
  }

  async function publishJson(req: IncomingMessage, res: ServerResponse, user: string | null): Promise<void> {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(await readBody(req)) as Record<string, unknown>;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object');
    } catch {
      throw new HttpError(ERRORS.invalidJson);
    }
    const topic = body['topic'];
    if (typeof topic !== 'string' || !TOPIC.test(topic)) throw new HttpError(ERRORS.invalidTopic);
    authorize(user, topic, 'write');
    const priority = body['priority'];
    if (priority !== undefined && (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 1 || priority > 5)) throw new HttpError(ERRORS.invalidPriority);
    const actions = validateActions(body['actions']);
    const message = store({
      topic,
      message: typeof body['message'] === 'string' ? body['message'] : '',
      title: typeof body['title'] === 'string' ? body['title'] : undefined,
      priority: priority as number | undefined,
      tags: Array.isArray(body['tags']) ? (body['tags'] as unknown[]).map(String) : undefined,
      click: typeof body['click'] === 'string' ? body['click'] : undefined,
      actions,
      markdown: body['markdown'] === true,
      cache: String(req.headers['x-cache'] ?? req.headers['cache'] ?? 'yes').toLowerCase() !== 'no',
    });
    sendJson(req, res, user, message);
  }

  async function publishBody(req: IncomingMessage, res: ServerResponse, user: string | null, topic: string): Promise<void> {
    if (!TOPIC.test(topic)) throw new HttpError(ERRORS.invalidTopic);
    authorize(user, topic, 'write');
    const body = await readBody(req);
    const header = (...names: string[]) => names.map((n) => req.headers[n]).find((v): v is string => typeof v === 'string');
    const priority = header('x-priority', 'priority', 'prio', 'p');
    const actionsHeader = header('x-actions', 'actions', 'action');
    let actions: Array<Record<string, unknown>> | undefined;
    if (actionsHeader !== undefined) {
      try {
        actions = validateActions(JSON.parse(actionsHeader));
      } catch (err) {
        throw err instanceof HttpError ? err : new HttpError(ERRORS.invalidActions, 'only the JSON form is modelled');
      }
    }
    const message = store({
      topic,
      message: body,
      title: header('x-title', 'title', 'ti', 't'),
      priority: priority === undefined ? undefined : Number(priority),
      tags: header('x-tags', 'tags', 'tag', 'ta')?.split(',').map((t) => t.trim()),
      actions,
      markdown: ['yes', 'true', '1'].includes((header('x-markdown', 'markdown', 'md') ?? '').toLowerCase()),
      cache: (header('x-cache', 'cache') ?? 'yes').toLowerCase() !== 'no',
    });
    sendJson(req, res, user, message);
  }

  function validateActions(raw: unknown): Array<Record<string, unknown>> | undefined {
    if (raw === undefined) return undefined;
    const fail = (why: string) => new HttpError(ERRORS.invalidActions, why);
    if (!Array.isArray(raw)) throw fail('actions must be an array');
    if (raw.length > 3) throw fail('only 3 actions allowed');
    return raw.map((a: unknown) => {
      if (a === null || typeof a !== 'object') throw fail('action must be an object');
      const action = { ...(a as Record<string, unknown>) };
      const kind = String(action['action'] ?? '').toLowerCase();
      const method = String(action['method'] ?? '').toUpperCase();
      if (!['view', 'http', 'broadcast'].includes(kind)) throw fail(`action '${kind}' unknown`);
      if (!action['label']) throw fail(`parameter 'label' is required`);
      if ((kind === 'view' || kind === 'http') && !action['url']) throw fail(`parameter 'url' is required for action '${kind}'`);
      if (kind === 'http' && (method === 'GET' || method === 'HEAD') && action['body']) throw fail(`parameter 'body' cannot be set if method is ${method}`);
      return { id: randomId(10), ...action, action: kind, ...(method ? { method } : {}) };
    });
  }

  function store(input: { topic: string; message: string; title?: string; priority?: number; tags?: string[]; click?: string; actions?: Array<Record<string, unknown>>; markdown: boolean; cache: boolean }): StoredMessage {
    const time = Math.floor(Date.now() / 1000);
    const big = Buffer.byteLength(input.message) > MAX_MESSAGE_BYTES;
    const message: StoredMessage = {
      id: randomId(12),
      time,
      expires: time + Math.floor(cacheDurationMs / 1000),
      event: 'message',
      topic: input.topic,
      // Bodies over the limit become attachments, as on the real server.
      message: big ? 'You received a file: attachment.txt' : input.message === '' ? 'triggered' : input.message,
      ...(input.title !== undefined ? { title: input.title } : {}),
      ...(input.priority !== undefined && input.priority !== 3 ? { priority: input.priority } : {}),
      ...(input.tags ? { tags: input.tags } : {}),
      ...(input.click ? { click: input.click } : {}),
      ...(input.actions ? { actions: input.actions } : {}),
      ...(input.markdown ? { content_type: 'text/markdown' } : {}),
      ...(big ? { attachment: { name: 'attachment.txt', type: 'text/plain; charset=utf-8', size: Buffer.byteLength(input.message), url: `${url}/file/${randomId(12)}.txt` } } : {}),
    };
    if (input.cache) cache.push(message);
    for (const sub of subscribers) if (sub.topics.includes(message.topic)) write(sub, message);
    return message;
  }

  function subscribe(req: IncomingMessage, res: ServerResponse, user: string | null, topics: string[], query: URLSearchParams): void {
    for (const t of topics) if (!TOPIC.test(t)) throw new HttpError(ERRORS.invalidTopic);
    for (const t of topics) authorize(user, t, 'read');
    const poll = ['1', 'yes', 'true'].includes(query.get('poll') ?? '');
    const cached = cachedSince(topics, query.get('since') ?? (poll ? 'all' : 'none'));
    record(req, user, 200);
    if (blockSubscriptions && !poll) {
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson; charset=utf-8', 'Access-Control-Allow-Origin': '*' });
    if (poll) {
      res.end(cached.map((m) => `${JSON.stringify(m)}\n`).join(''));
      return;
    }
    const sub: Subscriber = {
      topics,
      res,
      keepalive: setInterval(() => write(sub, { id: randomId(12), time: Math.floor(Date.now() / 1000), event: 'keepalive', topic: topics.join(',') }), keepaliveMs),
    };
    write(sub, { id: randomId(12), time: Math.floor(Date.now() / 1000), event: 'open', topic: topics.join(',') });
    for (const m of cached) write(sub, m);
    subscribers.add(sub);
    const done = () => {
      clearInterval(sub.keepalive);
      subscribers.delete(sub);
    };
    res.on('close', done);
    req.on('close', done);
  }

  function cachedSince(topics: string[], since: string): StoredMessage[] {
    const now = Date.now() / 1000;
    const live = cache.filter((m) => topics.includes(m.topic) && m.expires > now);
    if (since === 'none') return [];
    if (since === 'all') return live;
    if (since === 'latest') return live.slice(-1);
    if (/^\d+$/.test(since)) return live.filter((m) => m.time >= Number(since));
    const duration = /^(\d+)(s|m|h|d)$/.exec(since);
    if (duration) {
      const seconds = Number(duration[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[duration[2] as 's' | 'm' | 'h' | 'd'];
      return live.filter((m) => m.time >= now - seconds);
    }
    if (MESSAGE_ID.test(since)) {
      // An id the cache no longer holds resolves to "from the start", as in ntfy's SQL (COALESCE(…, 0)).
      const at = cache.findIndex((m) => m.id === since);
      return at < 0 ? live : live.filter((m) => cache.indexOf(m) > at);
    }
    throw new HttpError(ERRORS.invalidSince);
  }

  function write(sub: Subscriber, event: object | string): void {
    if (sub.res.writableEnded || sub.res.destroyed) return;
    sub.res.write(typeof event === 'string' ? `${event}\n` : `${JSON.stringify(event)}\n`);
  }

  function sendJson(req: IncomingMessage, res: ServerResponse, user: string | null, body: unknown): void {
    record(req, user, 200);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*' });
    res.end(`${JSON.stringify(body)}\n`);
  }

  return {
    url,
    requests,
    /** Every cached message of `topic`, oldest first. */
    messages(topic: string): StoredMessage[] {
      return cache.filter((m) => m.topic === topic);
    },
    /** Open `/json` streams (a subscriber of several topics counts once). */
    subscriberCount(topic?: string): number {
      return [...subscribers].filter((s) => topic === undefined || s.topics.includes(topic)).length;
    },
    addToken(token: string, user: string): void {
      tokens.set(token, user);
    },
    grant(entry: AclEntry): void {
      acl.unshift(entry);
    },
    setDefaultAccess(access: 'deny-all' | 'read-write'): void {
      defaultAccess = access;
    },
    setKeepalive(ms: number): void {
      keepaliveMs = ms;
    },
    /** Allow `burst` requests per visitor, refilled one per `replenishMs`; null switches limiting off. */
    limitRequests(limit: { burst: number; replenishMs: number } | null): void {
      limiter = limit ? { ...limit, buckets: new Map() } : null;
    },
    /** Cut every open stream, as a network failure would (no clean end of the response). */
    dropConnections(): void {
      for (const sub of subscribers) {
        clearInterval(sub.keepalive);
        sub.res.socket?.destroy();
      }
      subscribers.clear();
    },
    /** While on, new subscriptions are cut at once; publishing still works (the phone can still reply). */
    blockSubscriptions(on: boolean): void {
      blockSubscriptions = on;
    },
    /** Write a raw line to every open stream of `topic` (garbage, unknown event types). */
    injectLine(topic: string, line: string): void {
      for (const sub of subscribers) if (sub.topics.includes(topic)) write(sub, line);
    },
    async close(): Promise<void> {
      for (const sub of subscribers) clearInterval(sub.keepalive);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type NtfyDouble = Awaited<ReturnType<typeof startNtfyDouble>>;

function randomId(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1024 * 1024) throw new HttpError({ code: 41303, http: 413, error: 'JSON body too large' });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
