// A stand-in for a Vault/OpenBao server, in-process, speaking the documented HTTP API (reference/
// protocols.md): AppRole login with secret_id use counts and TTLs, response wrapping and single-use
// unwrap, KV v1 and v2 (with their 404 shapes), a dynamic `database` engine with leases, token
// lookup/revoke, lease revoke, ACL policies that answer 403 `permission denied`, and a seal switch.
// It records every request and which tokens and leases are alive, so tests can assert revocation.
// The setup calls (mounts, policies, roles) are the real API too, so the same fixture code drives a
// real dev server. See README.md beside this file for what it models and what it does not.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { allows, buildAcl, DEFAULT_POLICY, parsePolicy, PolicyParseError, type Operation, type Rule } from './vault-double/policy.ts';

export { parsePolicy } from './vault-double/policy.ts';

export interface VaultRequestRecord {
  method: string;
  path: string;
  status: number;
  namespace: string | null;
  /** The accessor of the token the request carried, if it was a known token. */
  accessor: string | null;
}

interface TokenRec {
  id: string;
  accessor: string;
  policies: string[];
  meta: Record<string, string>;
  ttl: number;
  expiresAt: number | null;
  numUses: number;
  revoked: boolean;
  createdAt: number;
}

interface LeaseRec {
  id: string;
  token: string;
  ttl: number;
  expiresAt: number;
  revoked: boolean;
}

interface RoleRec {
  name: string;
  mount: string;
  roleId: string;
  policies: string[];
  tokenTtl: number;
  tokenNumUses: number;
  secretIdNumUses: number;
  secretIdTtl: number;
  noDefaultPolicy: boolean;
}

interface SecretIdRec {
  role: string;
  accessor: string;
  usesLeft: number | null;
  expiresAt: number | null;
}

interface WrapRec {
  accessor: string;
  ttl: number;
  creationTime: string;
  creationPath: string;
  response: Record<string, unknown>;
  expiresAt: number;
}

type Reply = { status: number; body?: unknown };

const denied: Reply = { status: 403, body: { errors: ['permission denied'] } };
const sealedReply: Reply = { status: 503, body: { errors: ['Vault is sealed'] } };
const badWrap: Reply = { status: 400, body: { errors: ['wrapping token is not valid or does not exist'] } };

function parseTtl(value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'number') return value;
  const m = /^(\d+)(s|m|h|d)?$/.exec(String(value));
  if (!m) return fallback;
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[m[2] ?? 's']!;
}

const id = (prefix: string) => `${prefix}.${randomBytes(18).toString('base64url')}`;

export class VaultDouble {
  readonly rootToken: string;
  readonly unsealKey = randomBytes(16).toString('hex');
  readonly requests: VaultRequestRecord[] = [];
  sealed = false;
  /** Accept connections and never answer (a hung server). */
  hang = false;
  /** Answer every request this many ms late (a slow server). */
  delayMs = 0;
  /** Put the submitted secret_id into the 400 of a failed login: a server that leaks inputs into errors. */
  echoSecretIdInLoginErrors = false;

  #server: Server;
  #port = 0;
  #sockets = new Set<Socket>();
  #tokens = new Map<string, TokenRec>();
  #leases = new Map<string, LeaseRec>();
  #policies = new Map<string, Rule[]>([['default', parsePolicy(DEFAULT_POLICY)]]);
  #auth = new Map<string, string>([['token', 'token']]);
  #mounts = new Map<string, { type: string; version: number }>([['secret', { type: 'kv', version: 2 }], ['cubbyhole', { type: 'cubbyhole', version: 1 }]]);
  #roles = new Map<string, RoleRec>();
  #secretIds = new Map<string, SecretIdRec>();
  #wrapped = new Map<string, WrapRec>();
  #kv = new Map<string, Array<{ data: Record<string, unknown> | null; created: string; deleted: string }>>();
  #dbRoles = new Map<string, { ttl: number }>();

  readonly #tls: boolean;

  private constructor(rootToken: string, tls?: { key: string; cert: string }) {
    this.rootToken = rootToken;
    this.#tls = tls !== undefined;
    this.#tokens.set(rootToken, { id: rootToken, accessor: id('acc'), policies: ['root'], meta: {}, ttl: 0, expiresAt: null, numUses: 0, revoked: false, createdAt: Date.now() });
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res);
    this.#server = tls ? createTlsServer(tls, handler) : createServer(handler);
    this.#server.on('clientError', (err: Error, socket: Duplex) => this.#answerUnknownVerb(err, socket));
    this.#server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  /** Start a double on a free loopback port; with `tls` (PEM key and certificate) it serves https. */
  static async start(options: { rootToken?: string; tls?: { key: string; cert: string } } = {}): Promise<VaultDouble> {
    const double = new VaultDouble(options.rootToken ?? id('hvs'), options.tls);
    await double.resume();
    return double;
  }

  get address(): string {
    return `${this.#tls ? 'https' : 'http'}://127.0.0.1:${this.#port}`;
  }

  /** Stop listening (Vault is down); state is kept for `resume()`. */
  async pause(): Promise<void> {
    const closed = new Promise<void>((r) => this.#server.close(() => r()));
    for (const s of this.#sockets) s.destroy();
    await closed;
  }

  /** Listen again, on the same port after a pause. */
  async resume(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    if (this.#server.listening) await this.pause();
  }

  seal(): void {
    this.sealed = true;
  }

  unseal(): void {
    this.sealed = false;
  }

  /** Tokens that still work, except the root token. */
  liveTokens(): Array<{ accessor: string; policies: string[]; roleName: string | null }> {
    return [...this.#tokens.values()]
      .filter((t) => t.id !== this.rootToken && this.#alive(t))
      .map((t) => ({ accessor: t.accessor, policies: t.policies, roleName: t.meta['role_name'] ?? null }));
  }

  /** Leases not yet revoked or expired. */
  liveLeases(): Array<{ leaseId: string; accessor: string | null }> {
    return [...this.#leases.values()]
      .filter((l) => !l.revoked && l.expiresAt > Date.now())
      .map((l) => ({ leaseId: l.id, accessor: this.#tokens.get(l.token)?.accessor ?? null }));
  }

  /** Every token ever issued (for canary searches); the root token included. */
  allTokenIds(): string[] {
    return [...this.#tokens.keys(), ...this.#wrapped.keys()];
  }

  #alive(t: TokenRec): boolean {
    return !t.revoked && (t.expiresAt === null || t.expiresAt > Date.now());
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (this.hang) return;
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const reply = this.#answer(req.method ?? 'GET', req.url ?? '/', req.headers, Buffer.concat(chunks).toString('utf8'));
    res.writeHead(reply.status, reply.body === undefined ? {} : { 'content-type': 'application/json' });
    res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
  }

  // Node's HTTP parser knows no `LIST` verb (node-vault's list() sends it); its parse error still carries
  // the bytes, so a LIST request is answered from here, on a connection that then closes.
  #answerUnknownVerb(err: Error & { code?: string; rawPacket?: Buffer }, socket: Duplex): void {
    const text = err.rawPacket?.toString('latin1') ?? '';
    const end = text.indexOf('\r\n\r\n');
    const line = /^LIST (\S+) HTTP\/1\.[01]\r\n/.exec(text);
    if (err.code !== 'HPE_INVALID_METHOD' || !line || end < 0) {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    if (this.hang) return;
    const headers: IncomingHttpHeaders = {};
    for (const h of text.slice(line[0].length, end).split('\r\n')) {
      const colon = h.indexOf(':');
      if (colon > 0) headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
    }
    const reply = this.#answer('LIST', line[1]!, headers, '');
    const body = reply.body === undefined ? '' : JSON.stringify(reply.body);
    socket.end(`HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? ''}\r\n${body ? 'Content-Type: application/json\r\n' : ''}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }

  #answer(verb: string, rawUrl: string, headers: IncomingHttpHeaders, text: string): Reply {
    const url = new URL(rawUrl, 'http://double');
    const tokenId = (headers['x-vault-token'] as string | undefined) ?? '';
    const wrapTtl = headers['x-vault-wrap-ttl'] as string | undefined;
    const request = parseRequest(verb, url, text);
    let reply: Reply;
    try {
      reply = 'reply' in request ? request.reply : this.#route(request.method, request.path, request.body, tokenId, request.aclPath);
      if (wrapTtl && reply.status === 200 && reply.body && 'path' in request) reply = this.#wrap(reply.body as Record<string, unknown>, parseTtl(wrapTtl, 300), request.path);
    } catch (err) {
      reply = { status: 500, body: { errors: [`double: ${(err as Error).message}`] } };
    }
    const method = 'method' in request ? request.method : verb;
    const path = 'path' in request ? request.path : url.pathname.replace(/^\/v1\//, '');
    this.requests.push({ method, path, status: reply.status, namespace: (headers['x-vault-namespace'] as string | undefined) ?? null, accessor: this.#tokens.get(tokenId)?.accessor ?? null });
    return reply;
  }

  #route(method: string, path: string, body: Record<string, unknown>, tokenId: string, aclPath: string): Reply {
    if (path === 'sys/health') {
      const status = this.sealed ? 503 : 200;
      return { status, body: { initialized: true, sealed: this.sealed, standby: false, version: '1.15.6+airlock-double', cluster_name: 'double' } };
    }
    if (path === 'sys/seal-status') return { status: 200, body: { type: 'shamir', initialized: true, sealed: this.sealed, t: 1, n: 1, progress: 0, version: '1.15.6+airlock-double' } };
    if (path === 'sys/unseal') {
      if (body['key'] === this.unsealKey) this.sealed = false;
      return { status: 200, body: { sealed: this.sealed, t: 1, n: 1, progress: 0 } };
    }
    if (this.sealed) return sealedReply;

    // Unauthenticated endpoints.
    const login = /^auth\/(.+)\/login$/.exec(path);
    if (login && this.#auth.get(login[1]!) === 'approle' && (method === 'POST' || method === 'PUT')) return this.#login(login[1]!, body);
    if (path === 'sys/wrapping/lookup' && (method === 'POST' || method === 'PUT')) {
      const w = this.#liveWrap(String(body['token'] ?? tokenId));
      return w ? { status: 200, body: envelope({ creation_path: w.creationPath, creation_time: w.creationTime, creation_ttl: w.ttl }) } : badWrap;
    }
    if (path === 'sys/wrapping/unwrap' && (method === 'POST' || method === 'PUT') && !body['token']) {
      const w = this.#liveWrap(tokenId);
      if (!w) return badWrap;
      this.#wrapped.delete(tokenId);
      return { status: 200, body: w.response };
    }

    const token = this.#tokens.get(tokenId);
    if (!token || !this.#alive(token)) return denied;
    if (!this.#allowed(token, method, path, aclPath)) return denied;
    if (token.numUses > 0 && --token.numUses === 0) token.revoked = true;
    return this.#dispatch(method, path, body, token);
  }

  // One ACL from all of the token's policies, one deciding rule (vault-double/policy.ts). A write is
  // `create` where the KV item does not exist yet and `update` where it does (Vault's existence check).
  #allowed(token: TokenRec, method: string, path: string, aclPath: string): boolean {
    if (token.policies.includes('root')) return true;
    const op: Operation = method === 'GET' ? 'read' : method === 'LIST' ? 'list' : method === 'DELETE' ? 'delete' : this.#exists(path) === false ? 'create' : 'update';
    return allows(buildAcl(token.policies.map((name) => this.#policies.get(name) ?? [])), op, aclPath);
  }

  /** For KV paths, whether the item exists (null: the path has no existence check, so a write is an update). */
  #exists(path: string): boolean | null {
    const mount = this.#mountOf(path);
    if (!mount || !['kv', 'kv-v2'].includes(mount.info.type)) return null;
    if (mount.info.version === 1) return (this.#kv.get(path)?.length ?? 0) > 0;
    const m = /^data\/(.+)$/.exec(mount.rest);
    return m ? (this.#kv.get(`${mount.name}/${m[1]}`)?.length ?? 0) > 0 : null;
  }

  #mountOf(path: string): { name: string; info: { type: string; version: number }; rest: string } | null {
    const name = [...this.#mounts.keys()].filter((k) => path === k || path.startsWith(`${k}/`)).sort((a, b) => b.length - a.length)[0];
    return name === undefined ? null : { name, info: this.#mounts.get(name)!, rest: path.slice(name.length + 1) };
  }

  #dispatch(method: string, path: string, body: Record<string, unknown>, token: TokenRec): Reply {
    const root = token.policies.includes('root');
    const write = method === 'POST' || method === 'PUT';
    let m: RegExpExecArray | null;

    // --- tokens and leases ---
    if (path === 'auth/token/lookup-self' && method === 'GET') return { status: 200, body: envelope(this.#describeToken(token, true)) };
    if (path === 'auth/token/revoke-self' && write) {
      this.#revokeToken(token);
      return { status: 204 };
    }
    if (path === 'auth/token/renew-self' && write) {
      if (token.expiresAt !== null) token.expiresAt = Date.now() + token.ttl * 1000;
      return { status: 200, body: { ...envelope(null), auth: this.#authBlock(token) } };
    }
    if (path === 'auth/token/create' && write) {
      const child = this.#issueToken(toList(body['policies']), parseTtl(body['ttl'], 3600), {}, Number(body['num_uses'] ?? 0), body['no_default_policy'] === true);
      return { status: 200, body: { ...envelope(null), auth: this.#authBlock(child) } };
    }
    if (path === 'auth/token/accessors' && method === 'LIST') {
      if (!root) return denied;
      return { status: 200, body: envelope({ keys: [...this.#tokens.values()].filter((t) => this.#alive(t)).map((t) => t.accessor) }) };
    }
    if (path === 'auth/token/lookup-accessor' && write) {
      const t = [...this.#tokens.values()].find((x) => x.accessor === body['accessor'] && this.#alive(x));
      return t ? { status: 200, body: envelope(this.#describeToken(t, false)) } : { status: 400, body: { errors: ['invalid accessor'] } };
    }
    if (path === 'auth/token/revoke-accessor' && write) {
      const t = [...this.#tokens.values()].find((x) => x.accessor === body['accessor']);
      if (t) this.#revokeToken(t);
      return { status: 204 };
    }
    if ((m = /^sys\/leases\/revoke(?:\/(.+))?$/.exec(path)) && write) {
      const lease = this.#leases.get(m[1] ?? String(body['lease_id'] ?? ''));
      if (lease) lease.revoked = true;
      return { status: 204 };
    }
    if ((m = /^sys\/leases\/lookup\/(.*)$/.exec(path)) && method === 'LIST') {
      const prefix = m[1] ? `${m[1]}/` : '';
      const keys = [...this.#leases.values()].filter((l) => !l.revoked && l.expiresAt > Date.now() && l.id.startsWith(prefix)).map((l) => l.id.slice(prefix.length));
      return keys.length ? { status: 200, body: envelope({ keys }) } : { status: 404, body: { errors: [] } };
    }
    if (path === 'sys/wrapping/wrap' && write) return this.#wrap(envelope(body), 300, 'sys/wrapping/wrap');
    if (path === 'sys/wrapping/unwrap' && write) {
      const w = this.#liveWrap(String(body['token']));
      if (!w) return badWrap;
      this.#wrapped.delete(String(body['token']));
      return { status: 200, body: w.response };
    }

    // --- administration (root) ---
    if ((m = /^sys\/auth\/(.+)$/.exec(path))) {
      if (!root) return denied;
      if (method === 'DELETE') return this.#auth.delete(m[1]!), { status: 204 };
      if (this.#auth.has(m[1]!)) return { status: 400, body: { errors: [`path is already in use at ${m[1]}/`] } };
      this.#auth.set(m[1]!, String(body['type']));
      return { status: 204 };
    }
    if ((m = /^sys\/mounts\/(.+)$/.exec(path))) {
      if (!root) return denied;
      if (method === 'DELETE') return this.#mounts.delete(m[1]!), { status: 204 };
      if (this.#mounts.has(m[1]!)) return { status: 400, body: { errors: [`path is already in use at ${m[1]}/`] } };
      const options = (body['options'] ?? {}) as Record<string, unknown>;
      this.#mounts.set(m[1]!, { type: String(body['type']), version: Number(options['version'] ?? (body['type'] === 'kv-v2' ? 2 : 1)) });
      return { status: 204 };
    }
    if ((m = /^sys\/policies\/acl\/(.+)$/.exec(path)) || (m = /^sys\/policy\/(.+)$/.exec(path))) {
      if (!root) return denied;
      if (method === 'DELETE') return this.#policies.delete(m[1]!), { status: 204 };
      if (method === 'GET') return this.#policies.has(m[1]!) ? { status: 200, body: envelope({ name: m[1] }) } : { status: 404, body: { errors: [] } };
      try {
        this.#policies.set(m[1]!, parsePolicy(String(body['policy'] ?? body['rules'] ?? '')));
      } catch (err) {
        if (err instanceof PolicyParseError) return { status: 400, body: { errors: [`failed to parse policy: ${err.message}`] } };
        throw err;
      }
      return { status: 204 };
    }
    if (path === 'sys/seal' && write) {
      if (!root) return denied;
      this.sealed = true;
      return { status: 204 };
    }

    // --- AppRole administration ---
    if ((m = /^auth\/(.+)\/role\/([^/]+)(?:\/(role-id|secret-id))?$/.exec(path)) && this.#auth.get(m[1]!) === 'approle') return this.#roleAdmin(method, m[1]!, m[2]!, m[3], body);

    // --- secrets engines ---
    const mount = this.#mountOf(path);
    if (mount) {
      const { name, info, rest } = mount;
      if (info.type === 'database') return this.#database(method, name, rest, body, token);
      if (info.type === 'kv' || info.type === 'kv-v2') return info.version === 2 ? this.#kv2(method, name, rest, body) : this.#kv1(method, path, body);
    }
    return { status: 404, body: { errors: [`no handler for route "${path}". route entry not found.`] } };
  }

  #login(mount: string, body: Record<string, unknown>): Reply {
    const roleId = body['role_id'];
    const secretId = String(body['secret_id'] ?? '');
    if (typeof roleId !== 'string' || roleId === '') return { status: 400, body: { errors: ['missing role_id'] } };
    const role = [...this.#roles.values()].find((r) => r.mount === mount && r.roleId === roleId);
    const rec = this.#secretIds.get(secretId);
    const fail: Reply = { status: 400, body: { errors: [this.echoSecretIdInLoginErrors ? `invalid role or secret ID (secret_id ${secretId})` : 'invalid role or secret ID'] } };
    if (!role || !rec || rec.role !== `${mount}:${role.name}`) return fail;
    if (rec.expiresAt !== null && rec.expiresAt <= Date.now()) {
      this.#secretIds.delete(secretId);
      return fail;
    }
    if (rec.usesLeft !== null && --rec.usesLeft <= 0) this.#secretIds.delete(secretId);
    const policies = role.noDefaultPolicy ? role.policies : ['default', ...role.policies];
    const token = this.#issueToken(policies, role.tokenTtl, { role_name: role.name }, role.tokenNumUses, true);
    return { status: 200, body: { ...envelope(null), auth: { ...this.#authBlock(token), metadata: { role_name: role.name } } } };
  }

  #roleAdmin(method: string, mount: string, name: string, sub: string | undefined, body: Record<string, unknown>): Reply {
    const key = `${mount}:${name}`;
    const role = this.#roles.get(key);
    if (sub === undefined) {
      if (method === 'DELETE') {
        this.#roles.delete(key);
        for (const [s, rec] of this.#secretIds) if (rec.role === key) this.#secretIds.delete(s);
        return { status: 204 };
      }
      if (method === 'GET') return role ? { status: 200, body: envelope({ token_policies: role.policies, token_ttl: role.tokenTtl }) } : { status: 404, body: { errors: [] } };
      this.#roles.set(key, {
        name,
        mount,
        roleId: role?.roleId ?? randomUUID(),
        policies: toList(body['token_policies'] ?? body['policies']),
        tokenTtl: parseTtl(body['token_ttl'], 2764800),
        tokenNumUses: Number(body['token_num_uses'] ?? 0),
        secretIdNumUses: Number(body['secret_id_num_uses'] ?? 0),
        secretIdTtl: parseTtl(body['secret_id_ttl'], 0),
        noDefaultPolicy: body['token_no_default_policy'] === true,
      });
      return { status: 204 };
    }
    if (!role) return { status: 400, body: { errors: [`role "${name}" does not exist`] } };
    if (sub === 'role-id') return { status: 200, body: envelope({ role_id: role.roleId }) };
    const numUses = body['num_uses'] !== undefined ? Number(body['num_uses']) : role.secretIdNumUses;
    const ttl = body['ttl'] !== undefined ? parseTtl(body['ttl'], 0) : role.secretIdTtl;
    const secretId = randomUUID();
    const accessor = randomUUID();
    this.#secretIds.set(secretId, { role: key, accessor, usesLeft: numUses > 0 ? numUses : null, expiresAt: ttl > 0 ? Date.now() + ttl * 1000 : null });
    return { status: 200, body: envelope({ secret_id: secretId, secret_id_accessor: accessor, secret_id_ttl: ttl, secret_id_num_uses: numUses }) };
  }

  #kv2(method: string, mount: string, rest: string, body: Record<string, unknown>): Reply {
    const listed = /^metadata(?:\/(.*))?$/.exec(rest);
    if (listed && method === 'LIST') return this.#kvList(`${mount}/${listed[1] ? `${listed[1]}/` : ''}`);
    const m = /^(data|metadata|delete|undelete|destroy)\/(.+)$/.exec(rest);
    if (!m) return { status: 404, body: { errors: [] } };
    const key = `${mount}/${m[2]}`;
    const versions = this.#kv.get(key) ?? [];
    const metadata = (v: number) => ({ created_time: versions[v - 1]!.created, custom_metadata: null, deletion_time: versions[v - 1]!.deleted, destroyed: false, version: v });
    if (m[1] === 'data' && method === 'GET') {
      if (versions.length === 0) return { status: 404, body: { errors: [] } };
      const v = versions.length;
      const latest = versions[v - 1]!;
      if (latest.deleted) return { status: 404, body: envelope({ data: null, metadata: metadata(v) }) };
      return { status: 200, body: envelope({ data: latest.data, metadata: metadata(v) }) };
    }
    if (m[1] === 'data' && (method === 'POST' || method === 'PUT')) {
      versions.push({ data: (body['data'] ?? {}) as Record<string, unknown>, created: new Date().toISOString(), deleted: '' });
      this.#kv.set(key, versions);
      return { status: 200, body: envelope(metadata(versions.length)) };
    }
    if ((m[1] === 'data' && method === 'DELETE') || (m[1] === 'delete' && method !== 'GET')) {
      const latest = versions.at(-1);
      if (latest) latest.deleted = new Date().toISOString();
      return { status: 204 };
    }
    if (m[1] === 'metadata' && method === 'DELETE') {
      this.#kv.delete(key);
      return { status: 204 };
    }
    return { status: 405, body: { errors: ['1 error occurred:\n\t* unsupported operation\n\n'] } };
  }

  /** The keys under `prefix` (a folder ends in `/`), as KV's LIST answers; none is 404. */
  #kvList(prefix: string): Reply {
    const live = [...this.#kv.entries()].filter(([k, versions]) => k.startsWith(prefix) && versions.length > 0).map(([k]) => k.slice(prefix.length));
    const keys = [...new Set(live.map((k) => (k.includes('/') ? `${k.slice(0, k.indexOf('/'))}/` : k)))].sort();
    return keys.length ? { status: 200, body: envelope({ keys }) } : { status: 404, body: { errors: [] } };
  }

  #kv1(method: string, path: string, body: Record<string, unknown>): Reply {
    if (method === 'LIST') return this.#kvList(`${path}/`);
    if (method === 'GET') {
      const v = this.#kv.get(path)?.at(-1);
      return v?.data ? { status: 200, body: { ...envelope(v.data), lease_duration: 2764800 } } : { status: 404, body: { errors: [] } };
    }
    if (method === 'DELETE') return this.#kv.delete(path), { status: 204 };
    this.#kv.set(path, [{ data: body, created: new Date().toISOString(), deleted: '' }]);
    return { status: 204 };
  }

  #database(method: string, mount: string, rest: string, body: Record<string, unknown>, token: TokenRec): Reply {
    let m: RegExpExecArray | null;
    if ((m = /^roles\/([^/]+)$/.exec(rest))) {
      if (method === 'DELETE') return this.#dbRoles.delete(`${mount}/${m[1]}`), { status: 204 };
      this.#dbRoles.set(`${mount}/${m[1]}`, { ttl: parseTtl(body['default_ttl'], 3600) });
      return { status: 204 };
    }
    if (/^config\/[^/]+$/.test(rest)) return { status: 204 };
    if ((m = /^creds\/([^/]+)$/.exec(rest)) && method === 'GET') {
      const role = this.#dbRoles.get(`${mount}/${m[1]}`);
      if (!role) return { status: 400, body: { errors: [`unknown role: ${m[1]}`] } };
      const lease: LeaseRec = { id: `${mount}/creds/${m[1]}/${randomBytes(12).toString('base64url')}`, token: token.id, ttl: role.ttl, expiresAt: Date.now() + role.ttl * 1000, revoked: false };
      this.#leases.set(lease.id, lease);
      const data = { username: `v-approle-${m[1]}-${randomBytes(6).toString('hex')}`, password: `A1a-${randomBytes(15).toString('base64url')}` };
      return { status: 200, body: { ...envelope(data), lease_id: lease.id, lease_duration: role.ttl, renewable: true } };
    }
    return { status: 404, body: { errors: [`no handler for route "${mount}/${rest}". route entry not found.`] } };
  }

  #issueToken(policies: string[], ttl: number, meta: Record<string, string>, numUses: number, noDefault: boolean): TokenRec {
    const t: TokenRec = {
      id: id('hvs'),
      accessor: randomBytes(12).toString('base64url'),
      policies: noDefault || policies.includes('default') ? policies : ['default', ...policies],
      meta,
      ttl,
      expiresAt: ttl > 0 ? Date.now() + ttl * 1000 : null,
      numUses,
      revoked: false,
      createdAt: Date.now(),
    };
    this.#tokens.set(t.id, t);
    return t;
  }

  #authBlock(t: TokenRec) {
    return { client_token: t.id, accessor: t.accessor, policies: t.policies, token_policies: t.policies, metadata: t.meta, lease_duration: t.ttl, renewable: true, entity_id: '', token_type: 'service', orphan: true, num_uses: t.numUses };
  }

  #describeToken(t: TokenRec, self: boolean) {
    const ttl = t.expiresAt === null ? 0 : Math.max(0, Math.round((t.expiresAt - Date.now()) / 1000));
    return { ...(self ? { id: t.id } : {}), accessor: t.accessor, policies: t.policies, meta: t.meta, ttl, creation_ttl: t.ttl, num_uses: t.numUses, renewable: true, type: 'service', display_name: t.meta['role_name'] ? 'approle' : 'token', creation_time: Math.floor(t.createdAt / 1000) };
  }

  #revokeToken(t: TokenRec): void {
    t.revoked = true;
    for (const l of this.#leases.values()) if (l.token === t.id) l.revoked = true;
  }

  #liveWrap(token: string): WrapRec | null {
    const w = this.#wrapped.get(token);
    if (!w) return null;
    if (w.expiresAt <= Date.now()) {
      this.#wrapped.delete(token);
      return null;
    }
    return w;
  }

  #wrap(response: Record<string, unknown>, ttl: number, creationPath: string): Reply {
    const token = id('hvs');
    const rec: WrapRec = { accessor: randomBytes(12).toString('base64url'), ttl, creationTime: new Date().toISOString(), creationPath, response, expiresAt: Date.now() + ttl * 1000 };
    this.#wrapped.set(token, rec);
    return { status: 200, body: { ...envelope(null), wrap_info: { token, accessor: rec.accessor, ttl, creation_time: rec.creationTime, creation_path: creationPath } } };
  }
}

function envelope(data: unknown) {
  return { request_id: randomUUID(), lease_id: '', renewable: false, lease_duration: 0, data, wrap_info: null, warnings: null, auth: null };
}

function toList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  return [];
}

type ParsedRequest = { reply: Reply } | { method: string; path: string; aclPath: string; body: Record<string, unknown> };

const GO_BOOLS: Record<string, boolean> = { '1': true, t: true, T: true, true: true, TRUE: true, True: true, '0': false, f: false, F: false, false: false, FALSE: false, False: false };

// OpenBao's internal/http/logical.go, buildLogicalRequestNoAuth: the verb `LIST` and `GET ?list=true` are
// a list (the path gets a trailing `/`); a POST/PUT body that is not a JSON object is 400 before any token
// is looked at (internal/http/json.go, parseJSONRequest); other verbs are 405.
function parseRequest(verb: string, url: URL, text: string): ParsedRequest {
  const raw = url.pathname.replace(/^\/v1\//, '');
  const path = raw.replace(/\/$/, '');
  const listParam = url.searchParams.get('list');
  if (verb === 'GET' && listParam !== null && listParam !== '' && GO_BOOLS[listParam] === undefined) return { reply: { status: 400, body: { errors: [] } } };
  if (verb === 'LIST' || (verb === 'GET' && listParam !== null && GO_BOOLS[listParam] === true)) return { method: 'LIST', path, aclPath: raw.endsWith('/') ? raw : `${raw}/`, body: {} };
  if (verb === 'GET' || verb === 'DELETE') return { method: verb, path, aclPath: raw, body: {} };
  if (verb !== 'POST' && verb !== 'PUT') return { reply: { status: 405, body: { errors: [] } } };
  if (text.trim() === '') return { method: verb, path, aclPath: raw, body: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { reply: { status: 400, body: { errors: [`failed to decode JSON input: ${(err as Error).message}`] } } };
  }
  if (value !== null && (typeof value !== 'object' || Array.isArray(value))) {
    return { reply: { status: 400, body: { errors: [`failed to decode JSON input: json: cannot unmarshal ${Array.isArray(value) ? 'array' : typeof value} into Go value of type map[string]interface {}`] } } };
  }
  return { method: verb, path, aclPath: raw, body: (value ?? {}) as Record<string, unknown> };
}
