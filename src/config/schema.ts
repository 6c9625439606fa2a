// The runner config schema. Config comes only from the runner host, never from a pull request.
import { z } from 'zod';
import { approvalSchema } from '../approve/config.ts';
import { auditSchema } from '../audit/config.ts';
import { vaultSchema, workspaceCredentialsSchema } from '../credentials/config.ts';
import { engineSchema, networkSchema } from '../engine/config.ts';
import { guardSchema } from '../guard/config.ts';
import { metricsSchema } from '../metrics/config.ts';
import { policySchema } from '../policy/config.ts';
import { forgeSchema } from '../report/config.ts';
import { tracesSchema } from '../trace/config.ts';
import { duration, size } from '../lib/zod-units.ts';
import { driftSchema } from './drift-schema.ts';

const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be lowercase letters, digits, ".", "_" or "-", starting with a letter or digit');

const relativeDir = z
  .string()
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..') && !p.includes('\0'), 'must be a path inside the repository, without ".."');

const refPattern = z
  .string()
  .regex(/^refs\/[A-Za-z0-9._*/-]+$/, 'must be a ref pattern like "refs/pull/*/head"')
  .refine((p) => !p.includes('..') && !p.includes('//'), 'must be a ref pattern like "refs/pull/*/head"');

const repoUrl = z
  .string()
  .regex(/^(https:\/\/|ssh:\/\/|file:\/\/|git@)[^\s]+$/, 'must be an https://, ssh://, git@ or file:// URL')
  .refine((u) => !u.startsWith('-'), 'must not start with "-"');

// The backend config is written into the working directory (airlock_backend_override.tf.json) and recorded
// by `init` in .terraform/, where the planned code could read it: credentials must come from the environment.
const BACKEND_CREDENTIAL = /password|secret|token|access_key|conn_str|sas|credential|private_key|client_certificate|api_key/i;
const backendSchema = z
  .object({
    type: z.string().regex(/^[a-z0-9_]+$/, 'must be a backend type like "local" or "s3"').default('local'),
    config: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
      .superRefine((config, ctx) => {
        for (const key of Object.keys(config).filter((k) => BACKEND_CREDENTIAL.test(k))) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            params: { secret: true },
            message: "must not hold a credential: the backend config is written into the working directory, where the planned code can read it; give it to the engine through its environment instead (a workspace's `credentials` secrets, like AWS_SECRET_ACCESS_KEY or PG_CONN_STR)",
          });
        }
      })
      .default({}),
  })
  .strict();

const workspaceSchema = z
  .object({
    name,
    dir: relativeDir.default('.'),
    backend: backendSchema.optional(),
    /** This workspace's engine network, when it differs from `engine.network` (e.g. `none`). */
    network: networkSchema.optional(),
    credentials: workspaceCredentialsSchema,
    /** Plan `drift.ref`'s head on a schedule and report what changed outside of Airlock. */
    drift: driftSchema.optional(),
  })
  .strict();

const repoSchema = z
  .object({
    name,
    url: repoUrl,
    pollInterval: duration('30s').prefault('30s'),
    refs: z.array(refPattern).min(1).default(['refs/pull/*/head', 'refs/merge-requests/*/head']),
    workspaces: z.array(workspaceSchema).min(1).prefault([{ name: 'default' }]),
    // Where runs of this repo are reported (commit statuses, one PR comment per workspace): src/report/.
    forge: forgeSchema.optional(),
  })
  .strict()
  .superRefine((repo, ctx) => {
    const seen = new Set<string>();
    repo.workspaces.forEach((ws, i) => {
      if (seen.has(ws.name)) ctx.addIssue({ code: 'custom', path: ['workspaces', i, 'name'], message: 'must be unique within the repo' });
      seen.add(ws.name);
    });
  });

export const configSchema = z
  .object({
    runner: z
      .object({
        id: name.default('airlock'),
        dataDir: z.string().min(1).default('./.airlock'),
      })
      .strict()
      .prefault({}),
    redis: z
      .object({
        url: z
          .string()
          .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
          .refine((u) => !/^rediss?:\/\/[^/]*@/.test(u), 'must not hold a user or password: name the ACL user in `redis.username` and put the password in the file named by `redis.passwordFile`')
          .default('redis://127.0.0.1:6379'),
        prefix: z.string().regex(/^[A-Za-z0-9:_-]{1,64}$/, 'must be letters, digits, ":", "_" or "-"').default('airlock'),
        // The runner's Redis ACL user (deploy/redis.conf), limited to keys under `prefix`.
        username: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be a Redis ACL user name').optional(),
        // A 0600 file owned by the runner user holding the password; never the password itself.
        passwordFile: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    engine: engineSchema,
    backend: backendSchema.default({ type: 'local', config: {} }),
    repos: z.array(repoSchema).default([]),
    approval: approvalSchema,
    vault: vaultSchema,
    guard: guardSchema,
    policy: policySchema,
    audit: auditSchema,
    applies: z
      .object({ enabled: z.boolean().default(false) })
      .strict()
      .prefault({}),
    checkout: z
      .object({
        maxFiles: z.number().int().positive().default(5000),
        maxBytes: size('50MiB').prefault('50MiB'),
        maxFileBytes: size('5MiB').prefault('5MiB'),
        maxPathLength: z.number().int().positive().default(512),
        timeout: duration('2m').prefault('2m'),
      })
      .strict()
      .prefault({}),
    plans: z
      .object({
        concurrency: z.number().int().min(1).max(64).default(2),
        attempts: z.number().int().min(1).max(10).default(3),
        backoff: duration('10s').prefault('10s'),
      })
      .strict()
      .prefault({}),
    queue: z
      .object({
        // How long a worker's hold on a job lasts without renewal; a dead worker's apply is noticed after this.
        lockDuration: duration('30s').prefault('30s'),
        stalledInterval: duration('30s').prefault('30s'),
        // How long an approved apply waits for another apply on the same workspace to finish.
        workspaceLockWait: duration('30m').prefault('30m'),
      })
      .strict()
      .prefault({}),
    metrics: metricsSchema,
    traces: tracesSchema,
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info') })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.repos.forEach((repo, i) => {
      if (seen.has(repo.name)) ctx.addIssue({ code: 'custom', path: ['repos', i, 'name'], message: 'must be unique' });
      seen.add(repo.name);
    });
  });

export type RunnerConfig = z.output<typeof configSchema>;
export type RepoConfig = RunnerConfig['repos'][number];
export type WorkspaceConfig = RepoConfig['workspaces'][number];
export type BackendConfig = z.output<typeof backendSchema>;
