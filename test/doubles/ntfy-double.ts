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
import { buildMessage, DISALLOWED_TOPICS, paramsOf, type Params } from './ntfy-double/publish.ts';
import { fromJsonPublish } from './ntfy-double/publish-json.ts';
import { Streams } from './ntfy-double/streams.ts';

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


/** Start the double on 127.0.0.1:0. */
export async function startNtfyDouble(options: NtfyDoubleOptions = {}) {
  const creds: Credentials = { tokens: new Map(), passwords: new Map(Object.entries(options.passwords ?? {})) };
  for (const [token, user] of Object.entries(options.tokens ?? {})) addToken(token, user);
  const acl: AclEntry[] = [];
  for (const entry of options.acl ?? []) upsert(acl, entry);
  const authFile = options.authFile ?? (options.tokens !== undefined || options.passwords !== undefined || options.acl !== undefined);
  let defaultAccess: DefaultAccess = options.defaultAccess ?? 'read-write';
  const cacheDurationS = Math.floor((options.cacheDurationMs ?? 12 * 3600_000) / 1000);
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  const visitors = new Map<string, Visitor>();
  const cache = new MessageCache();
  const streams = new Streams(options.keepaliveMs ?? 45_000);
  const sockets = new Set<Socket>();
  const requests: RequestRecord[] = [];

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

  // server.go: limitRequestsWithTopic (a reserved topic first), authorizeTopicWrite, then handlePublishInternal.
  function publish(res: ServerResponse, ok: () => void, visitor: Visitor, user: string | null, topic: string, param: Params, body: Buffer): void {
    if (DISALLOWED_TOPICS.includes(topic)) throw new HttpError(ERRORS.topicDisallowed);
    limitRequests(visitor);
    authorize(user, topic, 'write');
    const { message, keep } = buildMessage(topic, param, body, { cacheDurationS, attachmentsUrl: options.attachments ? url : null });
    streams.deliver(topic, message);
    if (keep) cache.add(message);
    sendJson(res, ok, message);
  }

  // server.go, handleSubscribeHTTP: a subscription slot first (given back when the response ends), then `since`.
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
      streams.open(req, res, topics, cached, poll);
    } catch (err) {
      release();
      throw err;
    }
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
      return streams.count(topic);
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
      streams.keepaliveMs = ms;
    },
    /** Replace the request limit (burst, then one per `replenishMs`) for every visitor; null removes it. */
    limitRequests(limit: { burst: number; replenishMs: number } | null): void {
      limits.requests = limit;
      for (const v of visitors.values()) v.requests = limit ? new TokenBucket(limit.burst, limit.replenishMs) : null;
    },
    /** Cut every open stream, as a network failure would (no clean end of the response). */
    dropConnections(): void {
      streams.drop();
    },
    /** While on, new subscriptions are cut at once; publishing still works (the phone can still reply). */
    blockSubscriptions(on: boolean): void {
      streams.blocked = on;
    },
    /** The next stream with a `since` gets the newest cached message twice, as if it was published while subscribing. */
    raceNextSubscription(): void {
      streams.raceNext = true;
    },
    /** Write a raw line to every open stream of `topic` (garbage, unknown event types). */
    injectLine(topic: string, line: string): void {
      streams.deliver(topic, line);
    },
    async close(): Promise<void> {
      streams.stopTimers();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type NtfyDouble = Awaited<ReturnType<typeof startNtfyDouble>>;

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
