// The `engine` section of the runner config: which engine, its limits, and the wall around it. The
// sandbox is on unless the config says `engine.sandbox: none`; that opt-out is reported everywhere.
import path from 'node:path';
import { z } from 'zod';
import type { NetworkMode, SandboxSettings } from '../sandbox/sandbox.ts';
import type { GuardConfig } from '../guard/config.ts';
import { duration } from '../lib/zod-units.ts';

const absolutePath = z
  .string()
  .refine((p) => path.isAbsolute(p) && !p.includes('\0') && path.normalize(p) === p && p !== '/', 'must be an absolute, normalised path other than "/"');

const hostId = z.number().int().min(1, 'must not be 0 (root)').max(4294967294);

export const networkSchema = z.enum(['slirp4netns', 'none']);

// Variables that inject flags or redirect the engine's config; the runner sets these itself or never.
const RESERVED_ENV = /^(TF_CLI_ARGS(_.*)?|TF_CLI_CONFIG_FILE|TF_DATA_DIR|TF_WORKSPACE|TF_PLUGIN_CACHE_DIR|TF_IN_AUTOMATION|TF_INPUT|HOME|PATH)$/;
const engineEnv = z
  .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a valid environment variable name'), z.string())
  .refine((env) => Object.keys(env).every((k) => !RESERVED_ENV.test(k)), {
    message: 'must not set TF_CLI_ARGS*, TF_CLI_CONFIG_FILE, TF_DATA_DIR, TF_WORKSPACE, TF_PLUGIN_CACHE_DIR, TF_INPUT, TF_IN_AUTOMATION, HOME or PATH (the runner sets these)',
  });

const sandboxOptions = z
  .object({
    /** Host ids the engine runs as when the runner is root (ignored otherwise: a user namespace is used). */
    users: z
      .object({ plan: hostId.default(64101), apply: hostId.default(64102), group: hostId.default(64100) })
      .strict()
      .prefault({})
      .refine((u) => u.plan !== u.apply, { message: 'must give plan and apply different uids' }),
    /** Extra host paths every sandbox sees read-only at the same path (e.g. a node install for a wrapper). */
    readOnlyPaths: z.array(absolutePath).default([]),
    /** One sandbox for a plan job's init, plan and show (true), or one per command, as before sessions (false). */
    sessions: z.boolean().default(true),
  })
  .strict();

const sandboxSchema = z
  .union([z.literal('none'), z.literal('bwrap').transform(() => sandboxOptions.parse({})), sandboxOptions])
  .prefault('bwrap');

const providersSchema = z
  .object({
    /** The runner-owned mirror (unpacked layout); default `<runner.dataDir>/providers`. */
    mirror: absolutePath.optional(),
    /** `startup`: the runner mirrors every allowlisted provider (guard.providers) when it starts; `never`: the operator fills it. */
    fill: z.enum(['startup', 'never']).default('startup'),
    /** Where the fill step gets packages: the public registries, a filesystem mirror (path) or a network mirror (https URL). */
    origin: z.union([z.literal('registry'), absolutePath, z.string().regex(/^https:\/\/\S+\/$/, 'must be "registry", an absolute path, or an https:// URL ending in "/"')]).default('registry'),
  })
  .strict()
  .prefault({});

export const engineSchema = z
  .object({
    kind: z.enum(['terraform', 'tofu']).default('terraform'),
    binary: z.string().min(1).optional(),
    path: z.string().default('/usr/local/bin:/usr/bin:/bin'),
    env: engineEnv.default({}),
    timeouts: z
      .object({
        init: duration('10m').prefault('10m'),
        plan: duration('30m').prefault('30m'),
        show: duration('5m').prefault('5m'),
        apply: duration('60m').prefault('60m'),
        version: duration('30s').prefault('30s'),
      })
      .strict()
      .prefault({}),
    lockTimeout: duration('30s').prefault('30s'),
    /** `none` runs the engine without any wall: an explicit, loudly reported opt-out. */
    sandbox: sandboxSchema,
    /** slirp4netns: outbound NAT without the host's loopback; none: no network at all. */
    network: networkSchema.default('slirp4netns'),
    providers: providersSchema,
  })
  .strict()
  .prefault({});

export type EngineConfig = z.output<typeof engineSchema>;

/** The runner's provider mirror directory. */
export function providerMirrorDir(engine: EngineConfig, dataDir: string): string {
  return engine.providers.mirror ?? path.join(dataDir, 'providers');
}

/** Pure: the sandbox settings for the engine adapter, or null for `engine.sandbox: none`. */
export function sandboxSettingsFor(engine: EngineConfig, dataDir: string): SandboxSettings | null {
  if (engine.sandbox === 'none') return null;
  const { users, readOnlyPaths, sessions } = engine.sandbox;
  const plan = { uid: users.plan, gid: users.group };
  return {
    network: engine.network,
    readOnlyPaths,
    sessions,
    users: { plan, apply: { uid: users.apply, gid: users.group }, mirror: plan },
    providerMirror: providerMirrorDir(engine, dataDir),
  };
}

/** The loud line every surface shows when the sandbox is off. */
export const SANDBOX_OFF_WARNING = 'engine.sandbox is `none`: engine processes run WITHOUT the sandbox and can read the runner\'s files, environment and loopback services';

/** Pure: what every audit record of an engine step carries about the wall it ran behind. */
export function sandboxAuditDetail(sandboxed: boolean): Record<string, string> {
  return sandboxed ? { sandbox: 'bwrap' } : { sandbox: 'none', warning: SANDBOX_OFF_WARNING };
}

/** What the engine domain reads from the runner config; the whole runner config satisfies it. */
export interface EngineSlice {
  engine: EngineConfig;
  runner: { dataDir: string };
  repos: ReadonlyArray<{ workspaces: ReadonlyArray<{ network?: NetworkMode | undefined }> }>;
  guard: { providers: GuardConfig['providers'] };
}
