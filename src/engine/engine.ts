// The engine domain: running terraform/tofu for one job, and the only place that knows the CLI.
// This file is the domain's public surface: its types, plus re-exports of the pure rules
// (engine-rules.ts: command lines and exit codes; engine-env.ts: the child's environment;
// classify-failure.ts: reading failed output), the effects (create-engine.ts over run-engine.ts, the
// only module importing execa) and the errors (errors.ts).

export { createEngine } from './create-engine.ts';
export { buildEngineEnv, cliConfigPath, deniedEngineEnvReason } from './engine-env.ts';
export { classifyEngineFailure, parseLockInfo, type EngineFailure } from './classify-failure.ts';
export { buildEngineArgs, DEFAULT_KILL_GRACE_MS, formatLockTimeout, interpretPlanExit, parseVersionOutput } from './engine-rules.ts';
export {
  EngineEnvError,
  EngineFailedError,
  EngineKilledError,
  EngineNotFoundError,
  EngineOutputError,
  EngineRunError,
  EngineTimeoutError,
  PlanStaleError,
  StateLockedError,
} from './errors.ts';

import type { Mount, NetworkMode, SandboxSettings } from '../sandbox/sandbox.ts';

export type EngineKind = 'terraform' | 'tofu';
export type EngineStep = 'version' | 'init' | 'plan' | 'show' | 'apply';

export interface EngineSpec {
  kind: EngineKind;
  /** Absolute path or a name; resolved by the caller. */
  binary: string;
  /** The PATH given to the child (host config), e.g. '/usr/local/bin:/usr/bin:/bin'. */
  path: string;
  /** Extra host-configured variables for the child (non-secret, from runner config). */
  env: Record<string, string>;
  /** Per-step limits in ms. */
  timeouts: { init: number; plan: number; show: number; apply: number; version: number };
  /** Passed as -lock-timeout=Ns (rounded up to whole seconds). */
  lockTimeoutMs: number;
  /** SIGTERM → SIGKILL grace for the process group, default 5000. */
  killGraceMs?: number;
  /** The wall around every engine process; null only with `engine.sandbox: none` (loudly reported). */
  sandbox: SandboxSettings | null;
}

export interface EngineCall {
  /** The job's working directory (the exported workspace dir). */
  cwd: string;
  /** HOME for the child (a private dir inside the job dir); the CLI config file is written here. */
  homeDir: string;
  /** Credential env vars for this phase only (e.g. TF_VAR_x); added last. */
  secrets?: Record<string, string>;
  /** If set, combined stdout+stderr is appended here (created 0600). Raw output: may hold secrets. */
  logFile?: string;
  /** Each output line as it arrives (for progress). Raw output: may hold secrets. */
  onLine?: (line: string) => void;
  /** Cancellation: kills the process group like a timeout does. */
  signal?: AbortSignal;
  /** Which sandbox user runs the command: the plan's, the apply's, or the mirror fill's (default plan). */
  phase?: 'plan' | 'apply' | 'mirror';
  /** The CLI config text, instead of the default (install from the mirror only). Only the runner's own steps set it. */
  cliConfig?: string;
  /** Directories the sandbox binds read-write (default: cwd and homeDir). */
  writable?: string[];
  /** Directories both sandbox users write, e.g. a local backend's state dir. */
  shared?: string[];
  /** Files or directories bound read-only (the approved plan file, the provider mirror). */
  readOnly?: Mount[];
  /** This workspace's network (default: the sandbox settings'). */
  network?: NetworkMode;
}

export interface EngineVersion {
  kind: EngineKind;
  version: string;
  raw: unknown;
}

export type PlanOutcome = { changes: boolean; durationMs: number };

export interface Engine {
  version(call?: Partial<EngineCall>): Promise<EngineVersion>;
  init(call: EngineCall): Promise<void>;
  plan(call: EngineCall, planFile: string): Promise<PlanOutcome>;
  showJson(call: EngineCall, planFile: string, outFile: string): Promise<void>;
  apply(call: EngineCall, planFile: string): Promise<{ durationMs: number }>;
  /**
   * The steps of one job in one sandbox and one network namespace (engine-session.ts), where the host allows
   * it; otherwise each step gets a sandbox of its own, as from the Engine itself. `planFile` is the runner's
   * copy of the plan that `show` will read. Always closed by the caller.
   */
  session(opts: { planFile: string }): EngineSession;
}

/** The plan steps of one job sharing one sandbox; `close` ends it and everything in it. */
export interface EngineSession {
  init(call: EngineCall): Promise<void>;
  plan(call: EngineCall, planFile: string): Promise<PlanOutcome>;
  showJson(call: EngineCall, planFile: string, outFile: string): Promise<void>;
  close(): Promise<void>;
}

export interface LockInfo {
  id: string;
  path: string;
  operation: string;
  who: string;
  version: string;
  created: string;
}
