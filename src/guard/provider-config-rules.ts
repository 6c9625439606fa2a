// Guard rules about how a pull request configures a provider. Provider configuration comes from the
// runner, as the backend does: a `provider` block in the repository may set only the arguments the runner
// config lists for that provider (`guard.providers[].arguments`; `alias` always), and arguments that run
// programs or read host files (kubernetes/helm `exec` and `config_path`, AWS `profile` and
// `shared_*_files` leading to `credential_process`, any `*_file`/`*_path`) are refused at any depth, even
// when listed. The runner supplies those settings through the engine's environment. Pure.
import type { GuardConfig } from './config.ts';
import { matchesGlob } from './glob.ts';
import type { GuardViolation } from './guard.ts';
import { BUILTIN_PROVIDER, localProviderSources, normalizeProviderSource } from './provider-rules.ts';
import { bodiesOf, isObject, type Block } from './terraform-files.ts';

// Meta-arguments of every provider block; `version` is not one: constraints belong in required_providers.
const META_ARGUMENTS = new Set(['alias']);

const HOST_ARGUMENTS: ReadonlyArray<[RegExp, string]> = [
  [/^(exec|command|commands|program|process|credential_process)$|_(exec|command|program|process)$/i, 'it runs a program on the runner'],
  [/(^|_)profile$/i, 'it selects a profile of a shared config file, whose credential_process runs a program'],
  [/^shared_|(^|_)(path|paths|file|files|filename|dir|directory|kubeconfig)$/i, 'it names a file on the runner host for the provider to read'],
  [/^credentials$/i, 'it takes a file path on the runner host as well as credential content'],
];

/** Why an argument name can never be set from the repository, or null. */
export function hostArgumentReason(name: string): string | null {
  for (const [pattern, why] of HOST_ARGUMENTS) if (pattern.test(name)) return why;
  return null;
}

/** Provider-configuration violations of the whole tree; `defaultHost` is the engine's registry. */
export function findProviderConfigViolations(blocks: Block[], allow: GuardConfig['providers'], defaultHost: string): GuardViolation[] {
  const found: GuardViolation[] = [];
  for (const dir of new Set(blocks.map((b) => b.dir))) {
    const inDir = blocks.filter((b) => b.dir === dir);
    const sources = localProviderSources(inDir, defaultHost);
    for (const block of inDir.filter((b) => b.kind === 'provider')) {
      const localName = block.labels[0]!;
      const source = sources.get(localName) ?? null;
      const allowed = new Set(source === null ? [] : allowedArguments(source, allow, defaultHost));
      const at = (message: string) => found.push({ rule: 'provider-config', file: block.file, address: block.address, message });
      for (const [name, value] of Object.entries(block.body)) {
        if (name === '//' || META_ARGUMENTS.has(name)) continue;
        const why = hostArgumentReason(name);
        if (why) at(`argument ${JSON.stringify(name)} is refused: ${why}; the runner supplies it through the engine's environment`);
        else if (!allowed.has(name)) at(`argument ${JSON.stringify(name)} is not one the runner allows for provider ${source ?? localName} (guard.providers[].arguments)`);
        else for (const path of hostArgumentsWithin(value, name)) at(`${path} is refused: ${hostArgumentReason(path.split('.').pop()!)}`);
      }
    }
  }
  return found;
}

function allowedArguments(source: string, allow: GuardConfig['providers'], defaultHost: string): string[] {
  if (source === BUILTIN_PROVIDER) return [];
  return allow
    .filter((a) => {
      const pattern = normalizeProviderSource(a.source, defaultHost);
      return pattern !== null && matchesGlob(source, pattern, '/');
    })
    .flatMap((a) => a.arguments);
}

/** Dotted paths of nested arguments or blocks inside `value` whose names run programs or read files. */
function hostArgumentsWithin(value: unknown, at: string): string[] {
  const found: string[] = [];
  for (const body of Array.isArray(value) ? bodiesOf(value) : isObject(value) ? [value] : []) {
    for (const [name, inner] of Object.entries(body)) {
      const path = `${at}.${name}`;
      if (hostArgumentReason(name)) found.push(path);
      else found.push(...hostArgumentsWithin(inner, path));
    }
  }
  return found;
}
