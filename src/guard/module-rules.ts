// Guard rules about module sources: local paths stay inside the repository; anything fetched must be on
// the runner's allowlist and pinned (a git commit id, or an exact registry version). Pure.
import path from 'node:path';
import { matchesGlob } from './glob.ts';
import type { GuardViolation } from './guard.ts';
import type { Block } from './terraform-files.ts';

const COMMIT = /^[0-9a-f]{40}$/;
const EXACT_VERSION = /^=?\s*v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;
const REGISTRY_PART = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export type ModuleSource =
  | { kind: 'local'; path: string }
  | { kind: 'registry'; address: string }
  | { kind: 'git'; address: string; ref: string | null; query: string[] }
  | { kind: 'other'; address: string };

/** Classify a module source the way the engine's getter does, giving the address allowlists match. */
export function classifyModuleSource(source: string, defaultHost: string): ModuleSource {
  if (source.startsWith('./') || source.startsWith('../')) return { kind: 'local', path: source };
  const { base, query } = splitQuery(source);
  const withoutSubdir = stripSubdir(base);
  let git: string | null = null;
  if (withoutSubdir.startsWith('git::')) git = withoutSubdir.slice(5);
  else if (/^(github\.com|bitbucket\.org)\//i.test(withoutSubdir)) git = `https://${withoutSubdir}`;
  else if (/^git@[^:]+:/.test(withoutSubdir)) git = withoutSubdir;
  if (git !== null) {
    const params = new URLSearchParams(query);
    return { kind: 'git', address: `git::${git}`, ref: params.get('ref'), query: [...params.keys()] };
  }
  const parts = withoutSubdir.split('/');
  if (!withoutSubdir.includes('::') && query === '' && (parts.length === 3 || parts.length === 4) && parts.every((p) => REGISTRY_PART.test(p))) {
    const host = parts.length === 4 ? parts[0]!.toLowerCase() : defaultHost;
    return { kind: 'registry', address: [host, ...parts.slice(-3)].join('/') };
  }
  return { kind: 'other', address: source };
}

function splitQuery(source: string): { base: string; query: string } {
  const q = source.indexOf('?');
  return q === -1 ? { base: source, query: '' } : { base: source.slice(0, q), query: source.slice(q + 1) };
}

/** `host/org/repo.git//modules/vpc` → `host/org/repo.git` (the `//` after a scheme is not a subdir). */
function stripSubdir(base: string): string {
  const schemeEnd = base.indexOf('://');
  const from = schemeEnd === -1 ? 0 : schemeEnd + 3;
  const sub = base.indexOf('//', from);
  return sub === -1 ? base : base.slice(0, sub);
}

/** Module-source violations of the whole tree; `root` is the export directory. */
export function findModuleViolations(blocks: Block[], allow: string[], defaultHost: string, root: string): GuardViolation[] {
  const found: GuardViolation[] = [];
  for (const block of blocks.filter((b) => b.kind === 'module')) {
    const at = (rule: string, message: string) => found.push({ rule, file: block.file, address: block.address, message });
    const source = block.body['source'];
    if (typeof source !== 'string') {
      at('module-not-allowed', 'has no literal source');
      continue;
    }
    const shown = JSON.stringify(source);
    if (source.includes('${') || source.includes('%{')) {
      at('module-not-allowed', `source ${shown} is not a literal string`);
      continue;
    }
    const parsed = classifyModuleSource(source, defaultHost);
    if (parsed.kind === 'local') {
      const target = path.resolve(root, block.dir, parsed.path);
      if (target !== root && !target.startsWith(root + path.sep)) at('module-path', `source ${shown} points outside the repository`);
      continue;
    }
    if (parsed.address.split(/[/\\]/).includes('..')) {
      at('module-not-allowed', `source ${shown} contains ".."`);
      continue;
    }
    if (!allow.some((pattern) => matchesGlob(parsed.address, pattern, '/'))) {
      at('module-not-allowed', `source ${JSON.stringify(parsed.address)} is not in the runner's allowlist (guard.modules)`);
      continue;
    }
    if (parsed.kind === 'git') {
      if (parsed.ref === null || !COMMIT.test(parsed.ref)) {
        at('module-git-ref', `git source ${shown} must pin ?ref= to a full 40-hex commit id`);
      } else if (parsed.query.some((k) => k !== 'ref' && k !== 'depth')) {
        at('module-git-ref', `git source ${shown} may only carry ref= and depth= parameters`);
      }
    }
    if (parsed.kind === 'registry') {
      const version = block.body['version'];
      if (typeof version !== 'string' || !EXACT_VERSION.test(version.trim())) {
        at('module-version', `registry module ${JSON.stringify(parsed.address)} needs an exact version (like "1.2.3"), got ${version === undefined ? 'none' : JSON.stringify(version)}`);
      }
    }
  }
  return found;
}
