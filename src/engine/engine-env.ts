// The engine child's environment, built from an allowlist. Nothing from process.env passes through:
// the runner's own environment holds its Vault token, Redis password and forge token, and anything
// that runs inside terraform (providers, data "external", file("/proc/self/environ")) can read it.

import { join } from 'node:path';
import { EngineEnvError } from './errors.ts';
import type { EngineCall, EngineSpec } from './engine.ts';

/** The empty CLI config file the adapter writes into HOME, so no ~/.terraformrc is ever read. */
export function cliConfigPath(homeDir: string): string {
  return join(homeDir, 'airlock-cli-config.tfrc');
}

// Keys refused in engine.env and secrets, with why. Each one would silently override a guarantee
// the adapter makes by construction; none is ever needed to supply a value.
const DENIED_EXACT: Record<string, string> = {
  // Owned by the adapter: overriding them would re-enable prompts, phoning home, or a user config.
  PATH: 'PATH comes from engine.path',
  HOME: 'HOME is a private directory per job',
  TF_IN_AUTOMATION: 'set by Airlock',
  TF_INPUT: 'set by Airlock; input must stay disabled or the engine can hang on a prompt',
  CHECKPOINT_DISABLE: 'set by Airlock; the engine must not phone home',
  LANG: 'set by Airlock',
  // The CLI config can install providers from any directory (dev_overrides, filesystem mirrors) and
  // set credential helpers, i.e. choose which executables run.
  TF_CLI_CONFIG_FILE: 'it would replace the empty CLI config Airlock writes',
  TERRAFORM_CONFIG: 'legacy alias of TF_CLI_CONFIG_FILE',
  // Redirect where backend config, providers and modules are read from, or which state is used.
  TF_DATA_DIR: 'it moves .terraform, where the initialised backend and providers live',
  TF_WORKSPACE: 'it selects a different state than the one planned and approved',
  TF_PLUGIN_CACHE_DIR: 'a shared provider cache lets one job plant executables for another',
  TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE: 'it weakens provider checksum verification',
  TF_REATTACH_PROVIDERS: 'it attaches to already-running provider processes instead of verified ones',
  TF_DISABLE_PLUGIN_TLS: 'it disables TLS between the engine and its providers',
  TF_SKIP_PROVIDER_VERIFY: 'it skips provider signature verification',
};

// Prefix rules: TF_CLI_ARGS / TF_CLI_ARGS_<cmd> inject flags (-lock=false, -state=..., -auto-approve,
// -replace=...) into every command; TF_LOG* makes the engine print every value it handles, secrets
// included; LD_* / DYLD_* load code into the engine and every provider it starts.
const DENIED_PREFIXES: Array<[string, string]> = [
  ['TF_CLI_ARGS', 'it injects flags into engine commands'],
  ['TF_LOG', 'engine debug logs print secret values'],
  ['LD_', 'it loads code into the engine and its providers'],
  ['DYLD_', 'it loads code into the engine and its providers'],
];

// Allowed on purpose: TF_VAR_* (values), TF_TOKEN_* (registry credentials), proxies and CA bundles,
// and OpenTofu's TF_ENCRYPTION (host-configured state encryption; it can run key-provider commands,
// but it comes only from the runner config or Vault, never from the pull request).

/** Why `key` may not be set in the engine environment, or null when it may. */
export function deniedEngineEnvReason(key: string): string | null {
  if (key === '' || key.includes('=') || key.includes('\0')) return 'not a valid environment variable name';
  const upper = key.toUpperCase();
  const exact = DENIED_EXACT[upper];
  if (exact) return exact;
  for (const [prefix, why] of DENIED_PREFIXES) if (upper.startsWith(prefix)) return why;
  return null;
}

function addChecked(env: Record<string, string>, extra: Record<string, string> | undefined, where: 'engine.env' | 'secrets'): void {
  for (const [key, value] of Object.entries(extra ?? {})) {
    const why = deniedEngineEnvReason(key);
    if (why) throw new EngineEnvError(key, where, why);
    // The value is never echoed: under `secrets` it is a credential.
    if (typeof value !== 'string' || value.includes('\0')) throw new EngineEnvError(key, where, 'its value must be a string without NUL bytes');
    env[key] = value;
  }
}

/** Pure: the child's complete environment. Nothing from process.env. `cliConfig` overrides where the CLI config is (a sandbox's own path). */
export function buildEngineEnv(spec: EngineSpec, call: Pick<EngineCall, 'homeDir' | 'secrets'>, cliConfig = cliConfigPath(call.homeDir)): Record<string, string> {
  const env: Record<string, string> = {
    PATH: spec.path,
    HOME: call.homeDir,
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    TF_CLI_CONFIG_FILE: cliConfig,
    CHECKPOINT_DISABLE: '1',
    LANG: 'C.UTF-8',
  };
  addChecked(env, spec.env, 'engine.env');
  addChecked(env, call.secrets, 'secrets');
  return env;
}
