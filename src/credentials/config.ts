// The `vault` section and each workspace's `credentials` in the runner config. Config lives only on
// the runner host: the pull request cannot choose an identity, a secret or the variable it lands in.
//
//   vault:
//     address: https://vault.lab.internal:8200
//     caFile: /etc/airlock/vault-ca.pem
//   repos:
//     - workspaces:
//         - name: proxmox
//           credentials:
//             plan:
//               roleId: 6a1c…                          # the plan role: read-only secrets
//               secretIdFile: /etc/airlock/proxmox-plan.secret-id
//               secrets: { PM_API_TOKEN_ID: kv/data/proxmox-read#id, PM_API_TOKEN_SECRET: kv/data/proxmox-read#secret }
//             apply:
//               roleId: 93be…
//               secretIdFile: /etc/airlock/proxmox-apply.secret-id
//               wrapped: true                          # the file holds a response-wrapping token
//               secrets: { PM_API_TOKEN_ID: kv/data/proxmox#id, PM_API_TOKEN_SECRET: kv/data/proxmox#secret }
import { z } from 'zod';
import { duration } from '../lib/zod-units.ts';
import { parseSecretRef, secretEnvNameProblem, type SecretRef } from './credentials.ts';

const absoluteFile = z
  .string()
  .refine((p) => p.startsWith('/') && !p.includes('\0') && !p.split('/').includes('..'), 'must be an absolute file path without ".."');

export const vaultSchema = z
  .object({
    address: z
      .string()
      .regex(/^https?:\/\/[A-Za-z0-9.[\]:_-]+(:\d+)?\/?$/, 'must be an http(s):// URL with no path, like "https://vault.lab.internal:8200"'),
    /** Vault Enterprise / OpenBao namespace, sent as X-Vault-Namespace. */
    namespace: z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*\/?$/, 'must be a namespace path like "ops/homelab"').optional(),
    /** PEM bundle to verify Vault's TLS certificate; verification is never switched off. */
    caFile: absoluteFile.optional(),
    /** Per request; a hung Vault fails the job instead of holding it. */
    timeout: duration('10s').prefault('10s'),
  })
  .strict()
  .optional();

const secretRef = z
  .string()
  .refine((text) => parseSecretRef(text) !== null, 'must be "mount/path#key", like "kv/data/proxmox#token" (KV v2 paths keep the data/ segment)');

const identitySchema = z
  .object({
    /** The AppRole role_id (an identifier, not a secret). */
    roleId: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be the role_id Vault printed for this role'),
    /** A file only the runner user can read (mode 0600) holding the secret_id, or a wrapping token for it. */
    secretIdFile: absoluteFile,
    /** The file holds a response-wrapping token: unwrapped once, its creation path checked. */
    wrapped: z.boolean().default(false),
    /** Where the AppRole auth method is mounted. */
    mount: z.string().regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, 'must be an auth mount path like "approle"').default('approle'),
    /** Engine environment variable ← `mount/path#key`. */
    secrets: z.record(z.string(), secretRef).default({}),
    /**
     * Apply identity only: `ephemeral = true` variables of the configuration ← `mount/path#key`, handed to the
     * apply as TF_VAR_<name>. A saved plan keeps every other variable's plan-time value.
     */
    ephemeral: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'must be a variable name like "pm_api_token"'), secretRef).default({}),
  })
  .strict()
  .superRefine((identity, ctx) => {
    for (const name of Object.keys(identity.secrets)) {
      const problem = secretEnvNameProblem(name);
      if (problem) ctx.addIssue({ code: 'custom', path: ['secrets', name], message: problem });
    }
  })
  .transform((identity) => {
    const parse = (map: Record<string, string>) => Object.fromEntries(Object.entries(map).map(([name, text]) => [name, parseSecretRef(text)!])) as Record<string, SecretRef>;
    const ephemeral = parse(identity.ephemeral);
    const asEnv = Object.fromEntries(Object.entries(ephemeral).map(([name, ref]) => [`TF_VAR_${name}`, ref]));
    return { ...identity, ephemeral, secrets: { ...parse(identity.secrets), ...asEnv } };
  });

/** Why `apply.secrets` may not map `TF_VAR_*`, and what to do instead. */
export const APPLY_TF_VAR_PROBLEM =
  'must not be a TF_VAR_* variable: `apply PLANFILE` uses the variable values saved in the plan, which the plan identity gave, so this value would be ignored ' +
  "(and the plan identity would need the apply identity's secret). Give the provider its credentials through its own environment variable " +
  '(like PM_API_TOKEN_SECRET or AWS_SECRET_ACCESS_KEY), or declare the variable `ephemeral = true` in the configuration and map it under `apply.ephemeral`';

/**
 * `none`, or `inner`. A plain union would report a typo deep inside the object as "Invalid input" on
 * the whole section; this parses the object on its own so the error names the exact key, and tells
 * editors the full shape.
 */
function noneOr<T extends z.ZodType>(inner: T) {
  const { $schema: _drop, ...shape } = z.toJSONSchema(inner, { io: 'input', unrepresentable: 'any' });
  return z
    .union([z.literal('none'), z.looseObject({})], { error: 'must be `none` or a mapping' })
    .transform((value, ctx): 'none' | z.output<T> => {
      if (value === 'none') return 'none';
      const parsed = inner.safeParse(value);
      if (parsed.success) return parsed.data;
      for (const issue of parsed.error.issues) ctx.addIssue({ ...issue } as never);
      return z.NEVER;
    })
    .meta({ anyOf: [{ const: 'none' }, shape] });
}

const phaseSchema = noneOr(identitySchema);

const identitiesSchema = z
  .object({ plan: phaseSchema, apply: phaseSchema })
  .strict()
  .superRefine(({ plan, apply }, ctx) => {
    if (typeof apply === 'object') {
      for (const name of Object.keys(apply.secrets)) {
        if (name.toUpperCase().startsWith('TF_VAR_') && !(name.slice(7) in apply.ephemeral)) ctx.addIssue({ code: 'custom', path: ['apply', 'secrets', name], message: APPLY_TF_VAR_PROBLEM });
      }
    }
    if (typeof plan === 'object' && Object.keys(plan.ephemeral).length > 0) {
      ctx.addIssue({ code: 'custom', path: ['plan', 'ephemeral'], message: 'is for the apply identity only: the plan identity sets variables with TF_VAR_* under `plan.secrets`' });
    }
    if (plan === 'none' || apply === 'none' || typeof plan !== 'object' || typeof apply !== 'object') return;
    const never = 'the plan phase runs the pull request\'s code and must never hold the apply identity';
    if (plan.roleId === apply.roleId) ctx.addIssue({ code: 'custom', path: ['plan', 'roleId'], message: `must differ from \`apply.roleId\`: ${never}` });
    if (plan.secretIdFile === apply.secretIdFile) ctx.addIssue({ code: 'custom', path: ['plan', 'secretIdFile'], message: `must differ from \`apply.secretIdFile\`: ${never}` });
    const applyPaths = new Set(Object.values(apply.secrets).map((r) => r.path));
    for (const [name, ref] of Object.entries(plan.secrets)) {
      if (applyPaths.has(ref.path)) {
        ctx.addIssue({ code: 'custom', path: ['plan', 'secrets', name], message: `must not read \`${ref.path}\`, which the apply identity reads: ${never}; give the plan identity its own read-only secret` });
      }
    }
  });

/** `none`: the workspace needs no credentials. Otherwise one identity per phase, each may be `none`. */
export const workspaceCredentialsSchema = noneOr(identitiesSchema).default('none');

export type VaultConfig = NonNullable<z.output<typeof vaultSchema>>;
export type IdentityConfig = z.output<typeof identitySchema>;
export type WorkspaceCredentials = z.output<typeof workspaceCredentialsSchema>;

/**
 * What the credentials domain reads from the runner config: Vault, the engine's timeouts (for lease TTLs)
 * and each workspace's identities. The whole runner config satisfies it.
 */
export interface CredentialsSlice {
  vault?: VaultConfig | null | undefined;
  engine: { timeouts: { init: number; plan: number; show: number; apply: number } };
  repos: ReadonlyArray<{ name: string; workspaces: ReadonlyArray<{ name: string; credentials: WorkspaceCredentials }> }>;
}
