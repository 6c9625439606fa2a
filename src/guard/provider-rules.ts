// Guard rules about providers: every provider a configuration can load, named by its full source address,
// must be on the runner's allowlist, and its version constraints must lie inside the allowed ones. Pure.
import type { GuardConfig } from './config.ts';
import { matchesGlob } from './glob.ts';
import type { GuardViolation } from './guard.ts';
import { bodiesOf, isObject, type Block } from './terraform-files.ts';
import { ANY_VERSION, intersect, isWithin, parseConstraint, type VersionRange } from './version-constraint.ts';

/** The built-in provider (terraform_data, terraform_remote_state) ships inside the engine. */
export const BUILTIN_PROVIDER = 'terraform.io/builtin/terraform';

export const DEFAULT_REGISTRY: Record<'terraform' | 'tofu', string> = {
  terraform: 'registry.terraform.io',
  tofu: 'registry.opentofu.org',
};

/** `hashicorp/aws` → `registry.terraform.io/hashicorp/aws` (lower case); null when it is not an address. */
export function normalizeProviderSource(source: string, defaultHost: string): string | null {
  const parts = source.trim().toLowerCase().split('/');
  if (parts.some((p) => p === '' || !/^[a-z0-9_.*?-]+$/.test(p))) return null;
  if (parts.length === 2) return `${defaultHost}/${parts[0]}/${parts[1]}`;
  if (parts.length === 3) return parts.join('/');
  return null;
}

interface Use {
  file: string;
  address: string;
  localName: string;
}

interface Required {
  source?: string;
  version?: string;
  use: Use;
}

/** The `required_providers` entries of one module directory, by local name. */
function requiredProviders(inDir: Block[]): Map<string, Required> {
  const required = new Map<string, Required>();
  for (const block of inDir.filter((b) => b.kind === 'terraform')) {
    for (const list of bodiesOf(block.body['required_providers'])) {
      for (const [localName, spec] of Object.entries(list)) {
        const use = { file: block.file, address: `${block.address}.required_providers.${localName}`, localName };
        if (typeof spec === 'string') required.set(localName, { version: spec, use });
        else if (isObject(spec)) required.set(localName, { source: stringOrUndefined(spec['source']), version: stringOrUndefined(spec['version']), use });
      }
    }
  }
  return required;
}

function sourceFor(localName: string, required: Map<string, Required>): string {
  return required.get(localName)?.source ?? (localName === 'terraform' ? BUILTIN_PROVIDER : `hashicorp/${localName}`);
}

function normalizedSourceFor(localName: string, required: Map<string, Required>, defaultHost: string): string | null {
  const source = sourceFor(localName, required);
  return source === BUILTIN_PROVIDER ? source : normalizeProviderSource(source, defaultHost);
}

/** Local provider names of one module directory (required_providers and provider blocks) → full source. */
export function localProviderSources(inDir: Block[], defaultHost: string): Map<string, string> {
  const required = requiredProviders(inDir);
  const names = new Set([...required.keys(), ...inDir.filter((b) => b.kind === 'provider').map((b) => b.labels[0]!)]);
  const out = new Map<string, string>();
  for (const name of names) {
    const source = normalizedSourceFor(name, required, defaultHost);
    if (source !== null) out.set(name, source);
  }
  return out;
}

/** The local provider name a block uses: its `provider` argument, or the prefix of its resource type. */
function localNameOf(block: Block): string | undefined {
  const explicit = typeof block.body['provider'] === 'string' ? block.body['provider'].replace(/^\$\{|\}$/g, '').split('.')[0]!.trim() : undefined;
  if (explicit) return explicit;
  if (['resource', 'data', 'ephemeral'].includes(block.kind)) return block.labels[0]!.split('_')[0]!;
  if (block.kind === 'import') return importTargetType(block.body['to'])?.split('_')[0];
  return undefined;
}

/** `${module.a.aws_instance.x["k"]}` → `aws_instance`: the resource type an import block targets. */
function importTargetType(to: unknown): string | undefined {
  if (typeof to !== 'string') return undefined;
  const parts = to.replace(/^\$\{|\}$/g, '').trim().split('.');
  let i = 0;
  while (parts[i] === 'module' && i + 1 < parts.length) i += 2;
  const type = parts[i]?.replace(/\[.*$/, '');
  return type && /^[A-Za-z][A-Za-z0-9_-]*$/.test(type) ? type : undefined;
}

/** Provider violations of the whole tree; `defaultHost` is the engine's registry for short addresses. */
export function findProviderViolations(blocks: Block[], allow: GuardConfig['providers'], defaultHost: string): GuardViolation[] {
  const found: GuardViolation[] = [];
  const bySource = new Map<string, { first: Use; constraints: Array<Use & { text: string }> }>();

  for (const dir of new Set(blocks.map((b) => b.dir))) {
    const inDir = blocks.filter((b) => b.dir === dir);
    const required = requiredProviders(inDir);
    const used: Use[] = [...required.values()].map((r) => r.use);
    for (const block of inDir) {
      if (block.kind === 'provider') used.push({ file: block.file, address: block.address, localName: block.labels[0]! });
      else if (['resource', 'data', 'ephemeral', 'import'].includes(block.kind)) {
        const localName = localNameOf(block);
        if (localName !== undefined) used.push({ file: block.file, address: block.address, localName });
        else if (block.kind === 'import') found.push({ rule: 'provider-not-allowed', file: block.file, address: block.address, message: 'an import block whose target (`to`) is not a literal resource address: its provider cannot be checked' });
      }
    }
    for (const use of used) {
      const req = required.get(use.localName);
      const source = sourceFor(use.localName, required);
      const normalized = normalizedSourceFor(use.localName, required, defaultHost);
      if (normalized === null || normalized.includes('*') || normalized.includes('?')) {
        found.push({ rule: 'provider-not-allowed', file: use.file, address: use.address, message: `provider source ${JSON.stringify(source)} is not a valid source address` });
        continue;
      }
      const entry = bySource.get(normalized) ?? { first: use, constraints: [] };
      if (req?.version !== undefined && req.use === use) entry.constraints.push({ ...use, text: req.version });
      bySource.set(normalized, entry);
    }
  }

  for (const [source, { first, constraints }] of bySource) {
    if (source === BUILTIN_PROVIDER) continue;
    const where = { file: first.file, address: first.address };
    const entries = allow.filter((a) => {
      const pattern = normalizeProviderSource(a.source, defaultHost);
      return pattern !== null && matchesGlob(source, pattern, '/');
    });
    if (entries.length === 0) {
      found.push({ rule: 'provider-not-allowed', ...where, message: `provider ${source} (local name "${first.localName}") is not in the runner's allowlist (guard.providers)` });
      continue;
    }
    if (entries.some((e) => e.versions === undefined)) continue;
    let range: VersionRange = ANY_VERSION;
    let bad: (typeof constraints)[number] | undefined;
    for (const c of constraints) {
      try {
        range = intersect(range, parseConstraint(c.text));
      } catch {
        bad = c;
      }
    }
    const allowed = entries.map((e) => e.versions!);
    if (bad) {
      found.push({ rule: 'provider-version', file: bad.file, address: bad.address, message: `provider ${source}: version constraint ${JSON.stringify(bad.text)} cannot be read` });
    } else if (constraints.length === 0) {
      found.push({ rule: 'provider-version', ...where, message: `provider ${source} needs a version constraint within ${allowed.map((a) => JSON.stringify(a)).join(' or ')} (guard.providers)` });
    } else if (!allowed.some((a) => isWithin(range, parseConstraint(a)))) {
      const asked = constraints.map((c) => JSON.stringify(c.text)).join(' and ');
      const c = constraints[0]!;
      found.push({ rule: 'provider-version', file: c.file, address: c.address, message: `provider ${source}: version constraint ${asked} allows versions outside ${allowed.map((a) => JSON.stringify(a)).join(' or ')} (guard.providers)` });
    }
  }
  return found;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
