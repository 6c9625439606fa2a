// ACL policies for the Vault double: the `path "…" { capabilities = [...] }` subset of HCL, glob
// matching (`*` suffix, `+` segment) and Vault's rule that the most specific path wins within a policy.

export interface Rule {
  pattern: string;
  capabilities: string[];
}

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

/** Parse `path "x" { capabilities = [...] }` blocks: the subset of HCL that ACL policies use. */
export function parsePolicy(text: string): Rule[] {
  const rules: Rule[] = [];
  const clean = text.replace(/(^|\s)(#|\/\/).*$/gm, '');
  for (const m of clean.matchAll(/path\s+"([^"]+)"\s*\{([^}]*)\}/g)) {
    const caps = /capabilities\s*=\s*\[([^\]]*)\]/.exec(m[2]!);
    rules.push({ pattern: m[1]!, capabilities: caps ? [...caps[1]!.matchAll(/"([^"]+)"/g)].map((c) => c[1]!) : [] });
  }
  return rules;
}

export function matches(pattern: string, path: string): boolean {
  const glob = pattern.endsWith('*');
  const base = glob ? pattern.slice(0, -1) : pattern;
  const pSegs = base.split('/');
  const segs = path.split('/');
  if (!glob && pSegs.length !== segs.length) return false;
  for (let i = 0; i < pSegs.length; i++) {
    const p = pSegs[i]!;
    const s = segs[i];
    if (s === undefined) return false;
    const last = i === pSegs.length - 1;
    if (p === '+') continue;
    if (last && glob ? !s.startsWith(p) : s !== p) return false;
  }
  return true;
}

// Vault picks the most specific matching rule within a policy: exact beats glob, longer beats shorter.
export function specificity(pattern: string): number {
  return (pattern.endsWith('*') ? 0 : 1_000_000) + pattern.length * 10 - (pattern.split('+').length - 1);
}
