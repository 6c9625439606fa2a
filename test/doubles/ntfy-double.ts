// An in-process ntfy server for tests, written from ntfy's own source (server/server.go, config.go,
// visitor.go, message_cache.go, user/manager.go; see README.md beside this file for what it models and
// where it diverges). Its defaults are the real server's: without tokens or an ACL there is no auth at all;
// with them the default access is read-write; limits are per IP (60 requests then one per 5 s, 30
// subscriptions, 30 failed logins then one per minute). Switches let tests drop or refuse connections.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { accessFor, authenticate, canRead, canWrite, upsert, validateToken, type AclEntry, type Credentials, type DefaultAccess } from './ntfy-double/acl.ts';
import { MessageCache, validateSince, type StoredMessage } from './ntfy-double/cache.ts';
import { ERRORS, HttpError } from './ntfy-double/errors.ts';
import { DEFAULT_LIMITS, TokenBucket, Visitor, type Limits } from './ntfy-double/limits.ts';
import { DISALLOWED_TOPICS, fromJsonPublish, isUtf8, MESSAGE_SIZE_LIMIT, parseActions, parsePriority, randomId, TOPIC } from './ntfy-double/publish.ts';

export type { Access, AclEntry } from './ntfy-double/acl.ts';
export type { StoredMessage } from './ntfy-double/cache.ts';

export interface NtfyDoubleOptions {
  /** token → user name. Tokens or an ACL mean an auth file is set; without either there is no auth. */
  tokens?: Record<string, string>;
  /** user → password, for Basic auth with a user name. */
  passwords?: Record<string, string>;
  acl?: AclEntry[];
  /** auth-file set or not; by default, set when tokens, passwords or an ACL are given. */
  authFile?: boolean;
  /** auth-default-access: read-write unless told otherwise, as on the real server. */
  defaultAccess?: DefaultAccess;
  keepaliveMs?: number;
  cacheDurationMs?: number;
  /** attachment-cache-dir (and base-url) set: bodies over the message limit become attachments. */
  attachments?: boolean;
  /** behind-proxy: the visitor is the last address in X-Forwarded-For. */
  behindProxy?: boolean;
  limits?: Partial<Limits>;
}

interface Subscriber {
  topics: string[];
  res: ServerResponse;
  keepalive: NodeJS.Timeout;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  user: string | null;
  ip: string;
  status: number;
  /** ntfy's error code, for a refused request. */
  code: number | null;
}

type Params = (...names: string[]) => string;

/** Start the double on 127.0.0.1:0. */
export async function startNtfyDouble(options: NtfyDoubleOptions = {}) {
  const creds: Credentials = { tokens: new Map(), passwords: new Map(Object.entries(options.passwords ?? {})) };
  for (const [token, user] of Object.entries(options.tokens ?? {})) addToken(token, user);
  const acl: AclEntry[] = [];
  for (const entry of options.acl ?? []) upsert(acl, entry);
  const authFile = options.authFile ?? (options.tokens !== undefined || options.passwords !== undefined || options.acl !== undefined);
  let defaultAccess: DefaultAccess = options.defaultAccess ?? 'read-write';
  let keepaliveMs = options.keepaliveMs ?? 45_000;
  const cacheDurationS = Math.floor((options.cacheDurationMs ?? 12 * 3600_000) / 1000);
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  const visitors = new Map<string, Visitor>();
  const cache = new MessageCache();
  const subscribers = new Set<Subscriber>();
  const sockets = new Set<Socket>();
  const requests: RequestRecord[] = [];
  let blockSubscriptions = false;
  let raceNext = false;

  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', url);
    const ip = clientIp(req);
    let user: string | null = null;
    const done = (status: number, code: number | null) => requests.push({ method: req.method ?? 'GET', path: u.pathname, query: Object.fromEntries(u.searchParams), user, ip, status, code });
    (async () => {
      user = authenticateRequest(req, u, visitorOf(ip));
      await route(req, res, u, visitorOf(ip), user, () => done(200, null));
    })().catch((err: unknown) => {
      const e = err instanceof HttpError ? err : new HttpError(ERRORS.internal);
      done(e.body.http, e.body.code);
      if (res.headersSent) return void res.destroy();
      res.writeHead(e.body.http, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*' });
      res.end(`${JSON.stringify(e.json())}\n`);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function addToken(token: string, user: string): void {
    validateToken(token);
    creds.tokens.set(token, user);
  }

  function clientIp(req: IncomingMessage): string {
    const forwarded = String(req.headers['x-forwarded-for'] ?? '').split(',').map((s) => s.trim()).filter(Boolean).at(-1);
    if (options.behindProxy && forwarded) return forwarded;
    return (req.socket.remoteAddress ?? '0.0.0.0').replace(/^::ffff:/, '');
  }

  function visitorOf(ip: string): Visitor {
    let v = visitors.get(ip);
    if (!v) visitors.set(ip, (v = new Visitor(ip, limits)));
    return v;
  }

  /** server.go, maybeAuthenticate: no auth file, no credentials or an unsupported scheme → anonymous. */
  function authenticateRequest(req: IncomingMessage, u: URL, visitor: Visitor): string | null {
    if (!authFile) return null;
    const query = u.searchParams.get('authorization') || u.searchParams.get('auth');
    const header = (query ? Buffer.from(query, 'base64url').toString('utf8') : String(req.headers['authorization'] ?? '')).trim();
    if (!/^(basic|bearer) /i.test(header)) return null;
    if (!visitor.authAllowed()) throw new HttpError(ERRORS.tooManyAuthFailures);
    const user = authenticate(creds, header);
    if (user === undefined) {
      visitor.auth.allow();
      throw new HttpError(ERRORS.unauthorized);
    }
    return user;
  }

  function authorize(user: string | null, topic: string, want: 'read' | 'write'): void {
    if (!authFile) return;
    const access = accessFor(acl, defaultAccess, user, topic);
    if (!(want === 'read' ? canRead(access) : canWrite(access))) throw new HttpError(ERRORS.forbidden);
  }

  function limitRequests(visitor: Visitor): void {
    if (!visitor.requestAllowed()) throw new HttpError(ERRORS.tooManyRequests);
  }

  // server.go, handleInternal: only the routes Airlock uses, each behind the same middleware as there.
  async function route(req: IncomingMessage, res: ServerResponse, u: URL, visitor: Visitor, user: string | null, ok: () => void): Promise<void> {
    const path = u.pathname;
    const write = req.method === 'POST' || req.method === 'PUT';
    if (req.method === 'GET' && path === '/v1/health') return sendJson(res, ok, { healthy: true });
    if (write && path === '/') {
      const json = fromJsonPublish(await readBody(req));
      const params: Params = (...names) => names.map((n) => json.params[n] ?? '').find((v) => v !== '') ?? '';
      return publish(res, ok, visitor, user, json.topic, params, json.body);
    }
    const topicPath = /^\/([-_A-Za-z0-9]{1,64})$/.exec(path);
    if (write && topicPath) return publish(res, ok, visitor, user, topicPath[1]!, paramsOf(req, u), await readBody(req));
    const multi = /^\/([-_A-Za-z0-9]{1,64}(?:,[-_A-Za-z0-9]{1,64})*)\/(json|auth)$/.exec(path);
    if (req.method === 'GET' && multi) {
      limitRequests(visitor);
      const topics = multi[1]!.split(',');
      if (topics.some((t) => DISALLOWED_TOPICS.includes(t))) throw new HttpError(ERRORS.invalidTopic);
      for (const t of topics) authorize(user, t, 'read');
      if (multi[2] === 'auth') return sendJson(res, ok, { success: true });
      return subscribe(req, res, ok, visitor, topics, u.searchParams);
    }
    throw new HttpError(ERRORS.notFound);
  }

  // server.go, handlePublishInternal and parsePublishParams, behind limitRequestsWithTopic and authorizeTopicWrite.
  function publish(res: ServerResponse, ok: () => void, visitor: Visitor, user: string | null, topic: string, param: Params, body: Buffer): void {
    if (DISALLOWED_TOPICS.includes(topic)) throw new HttpError(ERRORS.topicDisallowed);
    limitRequests(visitor);
    authorize(user, topic, 'write');
    const keep = !['no', 'false', '0'].includes(param('x-cache', 'cache').toLowerCase());
    const priority = parsePriority(param('x-priority', 'priority', 'prio', 'p'));
    const actionsText = param('x-actions', 'actions', 'action');
    const actions = actionsText ? parseActions(actionsText) : [];
    for (const unmodelled of ['x-email', 'x-call', 'x-delay', 'x-attach', 'x-filename', 'x-template', 'x-poll-id']) {
      if (param(unmodelled, unmodelled.slice(2))) throw new HttpError({ code: 40000, http: 400, error: 'invalid request' }, `${unmodelled} is not modelled by the double`);
    }
    const time = Math.floor(Date.now() / 1000);
    const id = randomId(12);
    const attachment = bodyAsAttachment(body, id, time);
    const text = attachment ? `You received a file: ${String(attachment['name'])}` : goTrimSpace(body.toString('utf8'));
    const tags = param('x-tags', 'tags', 'tag', 'ta').split(',').map((t) => t.trim()).filter(Boolean);
    const markdown = ['1', 'yes', 'true'].includes(param('x-markdown', 'markdown', 'md').toLowerCase()) || param('content-type').toLowerCase() === 'text/markdown';
    const message: StoredMessage = {
      id,
      time,
      ...(keep ? { expires: time + cacheDurationS } : {}),
      event: 'message',
      topic,
      ...(param('x-title', 'title', 't') ? { title: param('x-title', 'title', 't') } : {}),
      message: text === '' ? 'triggered' : text,
      ...(priority !== 0 ? { priority } : {}),
      ...(tags.length ? { tags } : {}),
      ...(param('x-click', 'click') ? { click: param('x-click', 'click') } : {}),
      ...(actions.length ? { actions } : {}),
      ...(attachment ? { attachment } : {}),
      ...(markdown ? { content_type: 'text/markdown' } : {}),
    };
    for (const sub of subscribers) if (sub.topics.includes(topic)) write(sub, message);
    if (keep) cache.add(message);
    sendJson(res, ok, message);
  }

  // handlePublishBody: under the message limit and UTF-8 → the message; otherwise an attachment.
  function bodyAsAttachment(body: Buffer, id: string, time: number): Record<string, unknown> | null {
    const peeked = body.subarray(0, MESSAGE_SIZE_LIMIT);
    if (body.length < MESSAGE_SIZE_LIMIT && isUtf8(peeked)) return null;
    if (!options.attachments) throw new HttpError(ERRORS.attachmentsDisallowed);
    const text = isUtf8(peeked);
    return { name: `attachment${text ? '.txt' : '.bin'}`, type: text ? 'text/plain; charset=utf-8' : 'application/octet-stream', size: body.length, expires: time + 3 * 3600, url: `${url}/file/${id}${text ? '.txt' : '.bin'}` };
  }

  // server.go, handleSubscribeHTTP: a subscription slot first, then `since`; `open`, the cache, then live.
  function subscribe(req: IncomingMessage, res: ServerResponse, ok: () => void, visitor: Visitor, topics: string[], query: URLSearchParams): void {
    if (!visitor.subscriptionAllowed()) throw new HttpError(ERRORS.tooManySubscriptions);
    let released = false;
    const release = () => {
      if (!released) visitor.subscriptions--;
      released = true;
    };
    res.on('close', release);
    try {
      const poll = ['1', 'yes', 'true'].includes((query.get('poll') ?? query.get('po') ?? '').toLowerCase());
      const since = query.get('since') || query.get('si') || (poll ? 'all' : 'none');
      validateSince(since);
      const cached = since === 'none' ? [] : cache.since(topics, since);
      ok();
      if (blockSubscriptions && !poll) return void req.socket.destroy();
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson; charset=utf-8', 'Access-Control-Allow-Origin': '*' });
      if (poll) return void res.end(cached.map((m) => `${JSON.stringify(m)}\n`).join(''));
      const event = (name: string) => ({ id: randomId(12), time: Math.floor(Date.now() / 1000), event: name, topic: topics.join(',') });
      const sub: Subscriber = { topics, res, keepalive: setInterval(() => write(sub, event('keepalive')), keepaliveMs) };
      subscribers.add(sub);
      // The subscriber is registered before the cache is read: a message published in between goes out
      // live (even before `open`) and again from the cache. raceNextSubscription() makes that happen.
      if (raceNext && cached.length > 0) write(sub, cached.at(-1)!);
      raceNext = false;
      write(sub, event('open'));
      for (const m of cached) write(sub, m);
      res.on('close', () => {
        clearInterval(sub.keepalive);
        subscribers.delete(sub);
      });
    } catch (err) {
      release();
      throw err;
    }
  }

  function write(sub: Subscriber, event: object | string): void {
    if (sub.res.writableEnded || sub.res.destroyed) return;
    sub.res.write(typeof event === 'string' ? `${event}\n` : `${JSON.stringify(event)}\n`);
  }

  function sendJson(res: ServerResponse, ok: () => void, body: unknown): void {
    ok();
    res.writeHead(200, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*' });
    res.end(`${JSON.stringify(body)}\n`);
  }

  return {
    url,
    requests,
    /** Every cached message of `topic`, oldest first. */
    messages(topic: string): StoredMessage[] {
      return cache.topic(topic);
    },
    /** Open `/json` streams (a subscriber of several topics counts once). */
    subscriberCount(topic?: string): number {
      return [...subscribers].filter((s) => topic === undefined || s.topics.includes(topic)).length;
    },
    /** Subscriptions (streams and polls being answered) held by one visitor address. */
    subscriptionsOf(ip: string): number {
      return visitors.get(ip)?.subscriptions ?? 0;
    },
    addToken,
    removeToken(token: string): void {
      creds.tokens.delete(token);
    },
    /** `ntfy access USER TOPIC ACCESS`: adds the row, or replaces the row for the same user and pattern. */
    grant(entry: AclEntry): void {
      upsert(acl, entry);
    },
    setDefaultAccess(access: DefaultAccess): void {
      defaultAccess = access;
    },
    setKeepalive(ms: number): void {
      keepaliveMs = ms;
    },
    /** Replace the request limit (burst, then one per `replenishMs`) for every visitor; null removes it. */
    limitRequests(limit: { burst: number; replenishMs: number } | null): void {
      limits.requests = limit;
      for (const v of visitors.values()) v.requests = limit ? new TokenBucket(limit.burst, limit.replenishMs) : null;
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
    /** The next stream with a `since` gets the newest cached message twice, as if it was published while subscribing. */
    raceNextSubscription(): void {
      raceNext = true;
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

/** readParam: a header (trimmed), else the query parameter of the same name. */
function paramsOf(req: IncomingMessage, u: URL): Params {
  return (...names) => {
    for (const n of names) {
      const v = req.headers[n.toLowerCase()];
      if (typeof v === 'string' && v.trim() !== '') return v.trim();
    }
    for (const n of names) {
      const v = u.searchParams.get(n.toLowerCase());
      if (v && v.trim() !== '') return v.trim();
    }
    return '';
  };
}

// Go's strings.TrimSpace (unicode.IsSpace), which unlike String.prototype.trim keeps U+FEFF.
function goTrimSpace(s: string): string {
  return s.replace(/^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g, '');
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 16 * 1024 * 1024) throw new HttpError({ code: 41301, http: 413, error: 'attachment too large, or bandwidth limit reached' });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
