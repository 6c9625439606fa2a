// Pure rules about the CLI: the exact command line of each step, what exit codes mean, and how to
// read `version -json`. Terraform and OpenTofu agree on all of them.

import type { EngineSpec, EngineStep } from './engine.ts';

export const DEFAULT_KILL_GRACE_MS = 5000;

/** Format a lock timeout the way the CLI's -lock-timeout flag expects it. */
export function formatLockTimeout(ms: number): string {
  return `${Math.max(0, Math.ceil(ms / 1000))}s`;
}

/**
 * The argument vector for one step. Always an array (never a shell string); the plan file comes
 * after every flag, and callers pass it as an absolute path so it can never be read as a flag.
 */
export function buildEngineArgs(step: EngineStep, spec: Pick<EngineSpec, 'lockTimeoutMs'>, planFile = ''): string[] {
  const lock = `-lock-timeout=${formatLockTimeout(spec.lockTimeoutMs)}`;
  switch (step) {
    case 'version':
      return ['version', '-json'];
    case 'init':
      return ['init', '-input=false', '-no-color'];
    case 'plan':
      return ['plan', '-input=false', '-no-color', '-detailed-exitcode', lock, `-out=${planFile}`];
    case 'show':
      return ['show', '-json', '-no-color', planFile];
    case 'apply':
      return ['apply', '-input=false', '-no-color', lock, planFile];
  }
}

/** `plan -detailed-exitcode`: 0 means no changes, 2 means changes, anything else is a failure. */
export function interpretPlanExit(exitCode: number): { changes: boolean } | null {
  if (exitCode === 0) return { changes: false };
  if (exitCode === 2) return { changes: true };
  return null;
}

/** Read `version -json` output; OpenTofu uses the same `terraform_version` key. */
export function parseVersionOutput(stdout: string): { version: string; raw: unknown } | null {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch {
    return null;
  }
  const version = (raw as { terraform_version?: unknown } | null)?.terraform_version;
  return typeof version === 'string' && version !== '' ? { version, raw } : null;
}
