// An in-process forge for tests: the subset of the GitHub REST API (v3, at the root, like api.github.com)
// and of the Gitea/Forgejo API v1 (under /api/v1) that Airlock's reporter uses, written from their API
// documentation, error shapes included (see README.md beside this file). Issues (drift) are in
// forge-issues.ts. Switches make it fail as a
// forge does: down (5xx or refused connections), rate-limited (403/429 with the documented headers).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createIssueStore } from './forge-issues.ts';

export type Flavor = 'github' | 'gitea';

export interface TokenGrant {
  user: string;
  /** `owner/name` → access. A repo not listed is invisible (404), as a private repo is. */
  repos: Record<string, { push: boolean; admin?: boolean }>;
  /** Classic GitHub token scopes, sent back in `x-oauth-scopes`; fine-grained tokens have none. */
  scopes?: string[];
}

export interface StoredStatus { state: string; context: string; description: string; target_url: string | null; creator: string; at: number }
export interface StoredComment { id: number; body: string; user: string; pr: number }
export interface ForgeRequest { method: string; path: string; status: number; flavor: Flavor; auth: string | null }

type Limit = { kind: 'primary' | 'secondary' | 'too-many'; remaining: number; resetInS: number; retryAfterS?: number };

const GH_DOCS = 'https://docs.github.com/rest';

export async function startForgeDouble(opts: { tokens: Record<string, TokenGrant> }) {
  const tokens = new Map(Object.entries(opts.tokens));
  const statuses = new Map<string, StoredStatus[]>(); // `${owner}/${name}@${sha}`
  const comments: StoredComment[] = [];
  const pulls: Array<{ repo: string; number: number; sha: string; ref: string; state: 'open' | 'closed' }> = [];
  const requests: ForgeRequest[] = [];
  const sockets = new Set<Socket>();
  let nextId = 1000;
  let failing: { status: number; remaining: number } | null = null;
  let limit: Limit | null = null;
  let refuse = false;
  const issueStore = createIssueStore(
    (flavor, status, message, extra, docs) => error(flavor, status, message, extra, docs),
    (repo) => pulls.filter((p) => p.repo === repo).map((p) => p.number),
  );

  const server = createServer((req, res) => void handle(req, res));
  server.on('connection', (s) => {
    if (refuse) {
      s.destroy();
      return;
    }
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
  }

  function error(flavor: Flavor, status: number, message: string, extra: Record<string, unknown> = {}, docs = GH_DOCS): unknown {
    // GitHub: {message, documentation_url, status}; Gitea/Forgejo (APIError): {message, url}.
    return flavor === 'github' ? { message, documentation_url: docs, status: String(status), ...extra } : { message, url: `${url}/api/swagger`, ...extra };
  }

  async function readBody(req: IncomingMessage): Promise<Record<string, unknown> | null> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (chunks.length === 0) return {};
    try {
      const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', url);
    const flavor: Flavor = u.pathname.startsWith('/api/v1/') ? 'gitea' : 'github';
    const path = flavor === 'gitea' ? u.pathname.slice('/api/v1'.length) : u.pathname;
    const auth = /^(?:token|Bearer) (\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? null;
    const done = (status: number, body: unknown, headers?: Record<string, string>) => {
      requests.push({ method: req.method ?? '', path: u.pathname + u.search, status, flavor, auth });
      send(res, status, body, headers);
    };
    if (failing && failing.remaining > 0) {
      failing.remaining--;
      return done(failing.status, flavor === 'github' ? { message: 'Server Error' } : { message: 'Internal Server Error', url: `${url}/api/swagger` });
    }
    const grant = auth ? tokens.get(auth) : undefined;
    if (!grant) {
      return done(401, flavor === 'github' ? error('github', 401, auth ? 'Bad credentials' : 'Requires authentication') : error('gitea', 401, auth ? 'user does not exist [uid: 0, name: ]' : 'token is required'));
    }
    const rateHeaders = { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': String(limit ? limit.remaining : 4999), 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + (limit?.resetInS ?? 3600)), 'x-ratelimit-used': '1', 'x-ratelimit-resource': 'core' };
    if (limit && limit.remaining <= 0) {
      const h: Record<string, string> = { ...rateHeaders, ...(limit.retryAfterS !== undefined ? { 'retry-after': String(limit.retryAfterS) } : {}) };
      if (limit.kind === 'primary') return done(403, error(flavor, 403, `API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.`, {}, 'https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting'), h);
      if (limit.kind === 'secondary') return done(403, error(flavor, 403, 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.', {}, 'https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits'), h);
      return done(429, error(flavor, 429, 'Too Many Requests'), h);
    }
    const scopes: Record<string, string> = grant.scopes ? { 'x-oauth-scopes': grant.scopes.join(', ') } : {};
    const ok = (status: number, body: unknown) => done(status, body, flavor === 'github' ? { ...rateHeaders, ...scopes } : scopes);
    if (req.method === 'GET' && path === '/user') return ok(200, { login: grant.user, id: 1 });
    const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path);
    if (!m) return done(404, error(flavor, 404, 'Not Found'));
    const repo = `${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`;
    const access = grant.repos[repo];
    if (!access) return done(404, flavor === 'github' ? error('github', 404, 'Not Found') : error('gitea', 404, "The target couldn't be found.", { errors: [] }));
    const rest = m[3] ?? '';
    const write = req.method !== 'GET';
    if (write && !access.push) {
      return done(403, flavor === 'github' ? error('github', 403, 'Resource not accessible by personal access token') : error('gitea', 403, 'token does not have at least one of required scope(s): [write:repository]'));
    }
    const body = write ? await readBody(req) : {};
    if (body === null) return done(400, error(flavor, 400, 'Problems parsing JSON'));
    let r: RegExpExecArray | null;
    if (req.method === 'GET' && rest === '') return ok(200, { full_name: repo, permissions: { admin: access.admin ?? false, push: access.push, pull: true } });
    if (req.method === 'POST' && (r = /^\/statuses\/([0-9a-f]{40})$/.exec(rest))) return ok(...createStatus(flavor, repo, r[1]!, body, grant.user));
    if (rest === '/issues') {
      if (req.method === 'GET') return ok(...issueStore.list(flavor, repo, u, pulls.filter((p) => p.repo === repo)));
      if (req.method === 'POST') return ok(...issueStore.create(flavor, repo, body, grant.user));
    }
    if (req.method === 'PATCH' && (r = /^\/issues\/(\d+)$/.exec(rest))) return ok(...issueStore.edit(flavor, repo, Number(r[1]), body));
    if ((r = /^\/issues\/(\d+)\/comments$/.exec(rest))) {
      const pr = Number(r[1]);
      // PRs and issues share one number sequence, and both take comments through the issue routes.
      if (!pulls.some((p) => p.repo === repo && p.number === pr) && !issueStore.isIssue(repo, pr)) return done(404, error(flavor, 404, 'Not Found'));
      if (req.method === 'GET') return ok(200, page(comments.filter((c) => c.pr === pr), u, flavor).map(shapeComment));
      if (req.method === 'POST') return ok(...saveComment(flavor, body, { pr, user: grant.user }));
    }
    if (req.method === 'PATCH' && (r = /^\/issues\/comments\/(\d+)$/.exec(rest))) {
      const existing = comments.find((c) => c.id === Number(r![1]));
      if (!existing) return done(404, error(flavor, 404, 'Not Found'));
      return ok(...saveComment(flavor, body, existing));
    }
    if (flavor === 'github' && req.method === 'GET' && (r = /^\/commits\/([0-9a-f]{40})\/pulls$/.exec(rest))) {
      return ok(200, pulls.filter((p) => p.repo === repo && p.sha === r![1]).map(shapePull));
    }
    if (req.method === 'GET' && rest === '/pulls') {
      const state = u.searchParams.get('state') ?? 'open';
      const head = u.searchParams.get('head'); // GitHub: `owner:branch`
      const found = pulls.filter((p) => p.repo === repo && (state === 'all' || p.state === state) && (!head || flavor !== 'github' || `${repo.split('/')[0]}:${p.ref}` === head));
      return ok(200, page(found, u, flavor).map(shapePull));
    }
    return done(404, error(flavor, 404, 'Not Found'));
  }

  function createStatus(flavor: Flavor, repo: string, sha: string, body: Record<string, unknown>, user: string): [number, unknown] {
    const states = flavor === 'github' ? ['error', 'failure', 'pending', 'success'] : ['pending', 'success', 'error', 'failure', 'warning'];
    const description = typeof body['description'] === 'string' ? body['description'] : '';
    if (!states.includes(String(body['state']))) return [422, error(flavor, 422, 'Validation Failed', { errors: [{ resource: 'Status', code: 'custom', field: 'state', message: `state is not included in the list` }] })];
    // GitHub counts characters (code points); Gitea stores TEXT with no limit.
    if (flavor === 'github' && [...description].length > 140) {
      return [422, error('github', 422, 'Validation Failed', { errors: [{ resource: 'Status', code: 'custom', field: 'description', message: 'description is too long (maximum is 140 characters)' }] }, 'https://docs.github.com/rest/commits/statuses#create-a-commit-status')];
    }
    const s: StoredStatus = { state: String(body['state']), context: typeof body['context'] === 'string' ? body['context'] : 'default', description, target_url: typeof body['target_url'] === 'string' ? body['target_url'] : null, creator: user, at: Date.now() };
    const key = `${repo}@${sha}`;
    statuses.set(key, [...(statuses.get(key) ?? []), s]);
    return [201, { id: nextId++, ...s, creator: { login: user } }];
  }

  function saveComment(flavor: Flavor, body: Record<string, unknown>, into: { pr: number; user: string; id?: number }): [number, unknown] {
    const text = body['body'];
    if (typeof text !== 'string' || text === '') return [422, error(flavor, 422, 'Validation Failed', { errors: [{ resource: 'IssueComment', code: 'missing_field', field: 'body' }] })];
    if (flavor === 'github' && text.length > 65_536) {
      return [422, error('github', 422, 'Validation Failed', { errors: [{ resource: 'IssueComment', code: 'custom', field: 'body', message: 'body is too long (maximum is 65536 characters)' }] })];
    }
    const existing = into.id === undefined ? undefined : comments.find((c) => c.id === into.id);
    if (existing) {
      existing.body = text;
      return [200, shapeComment(existing)];
    }
    const c: StoredComment = { id: nextId++, body: text, user: into.user, pr: into.pr };
    comments.push(c);
    return [201, shapeComment(c)];
  }

  function page<T>(items: T[], u: URL, flavor: Flavor): T[] {
    const size = Number(u.searchParams.get(flavor === 'github' ? 'per_page' : 'limit') ?? (flavor === 'github' ? 30 : 50));
    const n = Number(u.searchParams.get('page') ?? 1);
    return items.slice((n - 1) * size, n * size);
  }
  const shapeComment = (c: StoredComment) => ({ id: c.id, body: c.body, user: { login: c.user } });
  const shapePull = (p: (typeof pulls)[number]) => ({ number: p.number, state: p.state, head: { sha: p.sha, ref: p.ref } });

  return {
    url,
    /** GitHub's API base URL (`apiUrl` for kind github). */
    githubApi: url,
    /** Gitea's server URL (`apiUrl` for kind gitea; the adapter adds /api/v1). */
    giteaUrl: url,
    requests,
    comments,
    /** Issues made through the API (drift issues), with every edit. */
    issues: issueStore.issues,
    /** Turn a repo's issues off: GitHub answers 410 Gone, Gitea 404. */
    disableIssues(repo: string): void {
      issueStore.disabled.add(repo);
    },
    statusesOf: (repo: string, sha: string) => statuses.get(`${repo}@${sha}`) ?? [],
    addPull(repo: string, number: number, sha: string, ref: string): void {
      pulls.push({ repo, number, sha, ref, state: 'open' });
    },
    /** The next `count` requests answer `status` (500 by default): a forge outage. */
    failNext(count: number, status = 500): void {
      failing = { status, remaining: count };
    },
    /** Refuse connections (true) or take them again (false). */
    refuseConnections(on: boolean): void {
      refuse = on;
      if (on) for (const s of sockets) s.destroy();
    },
    rateLimit(l: Limit | null): void {
      limit = l;
    },
    async stop(): Promise<void> {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export type ForgeDouble = Awaited<ReturnType<typeof startForgeDouble>>;
