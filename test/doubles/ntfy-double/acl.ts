// Who a request is and what it may do, as ntfy's user manager decides (user/manager.go). Tokens are
// `tk_` + 29 characters (AuthenticateToken refuses any other length). Authorize reads the matching ACL
// rows of the user and of everyone (`*`) in the order of selectTopicPermsQuery: the user's rows before
// everyone's (`ORDER BY u.user DESC`), then the longest stored pattern, then write before read; topics
// match with SQLite LIKE, which ignores ASCII case. No row: the default access (read-write by default).

export type Access = 'read-write' | 'read-only' | 'write-only' | 'deny';
export type DefaultAccess = Access | 'deny-all';

export interface AclEntry {
  /** A user name, or '*' for everyone (including anonymous). */
  user: string;
  /** A topic, or a pattern with '*' wildcards. */
  topic: string;
  access: Access;
}

const TOKEN_LENGTH = 32;
const USER = /^[-_.+@a-zA-Z0-9]+$/;
const TOPIC_PATTERN = /^[-_*A-Za-z0-9]{1,64}$/;

/** Fail fast on a token or grant the real server would never hold. */
export function validateToken(token: string): void {
  if (!token.startsWith('tk_') || token.length !== TOKEN_LENGTH) throw new Error(`ntfy double: ${JSON.stringify(token)} is not an ntfy token (tk_ + 29 characters)`);
}

export function validateEntry(entry: AclEntry): void {
  if (entry.user !== '*' && !USER.test(entry.user)) throw new Error(`ntfy double: user ${JSON.stringify(entry.user)} is not allowed (user/types.go, AllowedUsername)`);
  if (!TOPIC_PATTERN.test(entry.topic)) throw new Error(`ntfy double: topic pattern ${JSON.stringify(entry.topic)} is not allowed (user/types.go, AllowedTopicPattern)`);
}

// toSQLWildcard: `*` → `%`, and `_` escaped so it is literal (which makes the stored pattern longer).
function storedLength(pattern: string): number {
  return pattern.length + (pattern.match(/_/g)?.length ?? 0);
}

function likeMatches(pattern: string, topic: string): boolean {
  const body = pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`, 'i').test(topic);
}

const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The access that decides for `user` (null: anonymous) on `topic`. */
export function accessFor(acl: readonly AclEntry[], defaultAccess: DefaultAccess, user: string | null, topic: string): Access {
  const name = user ?? '*';
  const rows = acl
    .filter((e) => (e.user === '*' || e.user === name) && likeMatches(e.topic, topic))
    .sort((a, b) => byteOrder(b.user, a.user) || storedLength(b.topic) - storedLength(a.topic) || Number(canWrite(b.access)) - Number(canWrite(a.access)));
  const decided = rows[0]?.access ?? defaultAccess;
  return decided === 'deny-all' ? 'deny' : decided;
}

export function canRead(access: Access): boolean {
  return access === 'read-write' || access === 'read-only';
}

export function canWrite(access: Access): boolean {
  return access === 'read-write' || access === 'write-only';
}

/** Add or replace the row for (user, topic pattern), as `ntfy access` does (upsertUserAccessQuery). */
export function upsert(acl: AclEntry[], entry: AclEntry): void {
  validateEntry(entry);
  const at = acl.findIndex((e) => e.user === entry.user && e.topic === entry.topic);
  if (at >= 0) acl[at] = entry;
  else acl.push(entry);
}

export interface Credentials {
  tokens: Map<string, string>;
  /** user → password (Basic auth with a user name). */
  passwords: Map<string, string>;
}

/**
 * The user an Authorization value names, or undefined when it names none (server.go, authenticate:
 * `Bearer` is matched case-sensitively; Basic with an empty user name carries a token as the password).
 */
export function authenticate(creds: Credentials, header: string): string | undefined {
  if (header.startsWith('Bearer')) return tokenUser(creds, header.slice('Bearer'.length).trim());
  const basic = /^basic\s+(\S+)$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const [user, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
  if (user === '') return tokenUser(creds, password);
  return user !== '*' && creds.passwords.get(user) === password ? user : undefined;
}

function tokenUser(creds: Credentials, token: string): string | undefined {
  return token.length === TOKEN_LENGTH ? creds.tokens.get(token) : undefined;
}
