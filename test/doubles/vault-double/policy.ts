// ACL policies for the Vault double, ported from OpenBao's internal/vault/policy/: the `path "…" { … }`
// subset of HCL (policy.go, parsePaths), the merge of a token's policies into one ACL (acl.go, NewACL) and
// the choice of the one rule that decides a request (acl.go, AllowOperation and
// CheckAllowedFromNonExactPaths). Only rules for the identical path string merge; a deny there absorbs
// the rest. Otherwise nothing is added up across rules: an exact path decides first, else the single
// wildcard rule with the highest priority, whatever the other rules say.

export type Capability = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list' | 'scan' | 'sudo' | 'deny';

export interface Rule {
  /** The path as written, `*` suffix and `+` segments included. */
  pattern: string;
  capabilities: Capability[];
}

const CAPABILITIES: readonly string[] = ['create', 'read', 'update', 'patch', 'delete', 'list', 'scan', 'sudo', 'deny'];
// policy.go, parsePaths: the old `policy = "…"` form.
const OLD_STYLE: Record<string, Capability[]> = {
  deny: ['deny'],
  read: ['read', 'list'],
  write: ['create', 'read', 'update', 'delete', 'list'],
  sudo: ['create', 'read', 'update', 'delete', 'list', 'sudo'],
};

/** What Vault's built-in `default` policy allows that the tests rely on. */
export const DEFAULT_POLICY = `
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
path "sys/leases/renew" { capabilities = ["update"] }
path "sys/leases/lookup" { capabilities = ["update"] }
path "sys/wrapping/wrap" { capabilities = ["update"] }
path "sys/wrapping/lookup" { capabilities = ["update"] }
path "sys/wrapping/unwrap" { capabilities = ["update"] }
`;

/** A policy Vault refuses to store (answered 400 `failed to parse policy: …`). */
export class PolicyParseError extends Error {}

/** Parse `path "x" { capabilities = [...] }` (and `policy = "read"`) blocks, refusing what Vault refuses. */
export function parsePolicy(text: string): Rule[] {
  const rules: Rule[] = [];
  const clean = text.replace(/(^|\s)(#|\/\/).*$/gm, '');
  for (const m of clean.matchAll(/path\s+"([^"]*)"\s*\{([^}]*)\}/g)) {
    const pattern = m[1]!.replace(/^\//, '');
    if (pattern.includes('+*')) throw new PolicyParseError(`path "${pattern}": invalid use of wildcards ('+*' is forbidden)`);
    const list = /capabilities\s*=\s*\[([^\]]*)\]/.exec(m[2]!);
    const caps = list ? [...list[1]!.matchAll(/"([^"]*)"/g)].map((c) => c[1]!) : [];
    const old = /(?:^|\s)policy\s*=\s*"([^"]*)"/.exec(m[2]!)?.[1];
    if (old !== undefined) {
      if (!OLD_STYLE[old]) throw new PolicyParseError(`path "${pattern}": invalid policy "${old}"`);
      caps.push(...OLD_STYLE[old]!);
    }
    const bad = caps.find((c) => !CAPABILITIES.includes(c));
    if (bad !== undefined) throw new PolicyParseError(`path "${pattern}": invalid capability "${bad}"`);
    rules.push({ pattern, capabilities: caps.includes('deny') ? ['deny'] : [...new Set(caps as Capability[])] });
  }
  return rules;
}

/** The merged rules of every policy a token carries (acl.go, NewACL). */
export interface Acl {
  exact: Map<string, Set<Capability>>;
  /** Keyed by the path without its trailing `*`. */
  prefix: Map<string, Set<Capability>>;
  /** Paths with a `+` segment, keyed as written (a trailing `*` kept). */
  segment: Map<string, Set<Capability>>;
}

/** Merge rules into one ACL: only identical paths merge, and a deny there wins over everything else. */
export function buildAcl(policies: Rule[][]): Acl {
  const acl: Acl = { exact: new Map(), prefix: new Map(), segment: new Map() };
  for (const rule of policies.flat()) {
    const { tree, key } = placeOf(acl, rule.pattern);
    const existing = tree.get(key);
    if (!existing) tree.set(key, new Set(rule.capabilities));
    else if (existing.has('deny')) continue;
    else if (rule.capabilities.includes('deny')) tree.set(key, new Set(['deny']));
    else for (const c of rule.capabilities) existing.add(c);
  }
  return acl;
}

// policy.go, parsePaths: `+` as a whole segment makes a segment-wildcard path (its `*` is kept);
// otherwise a trailing `*` makes a prefix path, stored without it.
function placeOf(acl: Acl, pattern: string): { tree: Map<string, Set<Capability>>; key: string } {
  if (pattern === '+' || pattern.includes('/+') || pattern.startsWith('+/')) return { tree: acl.segment, key: pattern };
  if (pattern.endsWith('*')) return { tree: acl.prefix, key: pattern.slice(0, -1) };
  return { tree: acl.exact, key: pattern };
}

export type Operation = Exclude<Capability, 'sudo' | 'deny'>;

/** Whether the ACL allows `op` on `path` (a LIST path ends in `/`, as the HTTP layer makes it). */
export function allows(acl: Acl, op: Operation, path: string): boolean {
  const rule = decidingRule(acl, op, path.replace(/^\/+/, ''));
  return rule !== null && rule.has(op);
}

/** The one rule that decides (acl.go, AllowOperation): exact, then wildcard, each also without the LIST slash. */
export function decidingRule(acl: Acl, op: Operation, path: string): Set<Capability> | null {
  const listing = op === 'list' || op === 'scan';
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
  return (
    acl.exact.get(path) ??
    (listing ? acl.exact.get(trimmed) : undefined) ??
    nonExactRule(acl, path) ??
    (listing && path.endsWith('/') ? nonExactRule(acl, trimmed) : null)
  );
}

interface Candidate {
  firstWildcard: number;
  isPrefix: boolean;
  wildcards: number;
  path: string;
  caps: Set<Capability>;
}

// acl.go, CheckAllowedFromNonExactPaths: the longest prefix rule and every matching segment rule
// compete; the winner has the latest first wildcard, then is not a prefix, then has fewer `+`, then is
// longer, then sorts later.
function nonExactRule(acl: Acl, path: string): Set<Capability> | null {
  const candidates: Candidate[] = [];
  const longest = [...acl.prefix.keys()].filter((p) => path.startsWith(p)).sort((a, b) => b.length - a.length)[0];
  if (longest !== undefined) {
    if (acl.segment.size === 0) return acl.prefix.get(longest)!;
    candidates.push({ firstWildcard: longest.length, isPrefix: true, wildcards: 0, path: longest, caps: acl.prefix.get(longest)! });
  }
  const parts = path.split('/');
  for (const [full, caps] of acl.segment) {
    const isPrefix = full.endsWith('*');
    const current = isPrefix ? full.slice(0, -1) : full;
    const segments = current.split('/');
    if (parts.length < segments.length || (!isPrefix && segments.length !== parts.length)) continue;
    let wildcards = 0;
    const matched = segments.every((seg, i) => {
      if (seg === '+') return ++wildcards > 0;
      if (seg === parts[i]) return true;
      return isPrefix && i === segments.length - 1 && parts[i]!.startsWith(seg);
    });
    if (matched) candidates.push({ firstWildcard: full.indexOf('+'), isPrefix, wildcards, path: current, caps });
  }
  if (candidates.length === 0) return null;
  return candidates.sort(byPriority).at(-1)!.caps;
}

function byPriority(a: Candidate, b: Candidate): number {
  if (a.firstWildcard !== b.firstWildcard) return a.firstWildcard - b.firstWildcard;
  if (a.isPrefix !== b.isPrefix) return a.isPrefix ? -1 : 1;
  if (a.wildcards !== b.wildcards) return b.wildcards - a.wildcards;
  if (a.path.length !== b.path.length) return a.path.length - b.path.length;
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}
