// The `guard` section of the runner config: what code the runner agrees to plan. It lives on the runner
// host only; nothing in a repository can change it.
import { z } from 'zod';
import { hostArgumentReason } from './provider-config-rules.ts';
import { parseConstraint } from './version-constraint.ts';

const providerSource = z
  .string()
  .regex(/^([A-Za-z0-9.*?-]+\/)?[A-Za-z0-9_*?-]+\/[A-Za-z0-9_*?-]+$/, 'must be a provider source address like "hashicorp/aws" or "registry.terraform.io/hashicorp/aws" (`*` allowed)');

const versionConstraint = z.string().superRefine((text, ctx) => {
  try {
    parseConstraint(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `must be a version constraint like "~> 5.0" (${(err as Error).message})` });
  }
});

// An argument a pull request may set in a `provider` block. Names that run programs or read host files
// can never be allowed: the runner supplies those through the engine's environment.
const providerArgument = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'must be a provider argument name like "region"')
  .superRefine((name, ctx) => {
    const why = hostArgumentReason(name);
    if (why) ctx.addIssue({ code: 'custom', message: `cannot be allowed: ${why}; give the provider this setting through the engine's environment (engine.env, or a workspace's credentials)` });
  });

const providerEntry = z.union([
  providerSource.transform((source) => ({ source, versions: undefined as string | undefined, arguments: [] as string[] })),
  z
    .object({
      source: providerSource,
      versions: versionConstraint.optional(),
      /** Arguments (and nested blocks) a `provider` block in the repository may set; `alias` is always allowed. */
      arguments: z.array(providerArgument).default([]),
    })
    .strict(),
]);

const remoteStateEntry = z
  .object({
    /** The backend type `terraform_remote_state` may name, like "s3". */
    backend: z.string().regex(/^[a-z0-9_]+$/, 'must be a backend type like "s3"').refine((b) => b !== 'local', 'must not be "local": a local backend reads state files on the runner host'),
    /** Every key the data source may set in `config`, each with a glob its literal value must match. */
    config: z.record(z.string(), z.string().min(1)).default({}),
    /** Glob for the `workspace` argument. */
    workspace: z.string().min(1).default('default'),
  })
  .strict();

export const guardSchema = z
  .object({
    /** strict: a file()/templatefile()-family read of a host path refuses the plan; lenient: it is a warning. */
    mode: z.enum(['strict', 'lenient']).default('strict'),
    /** Providers a pull request may use, by source address; `versions` bounds the constraints it may ask for. */
    providers: z.array(providerEntry).default([]),
    /**
     * Remote module sources a pull request may use (globs; `*` stays within one path segment, `**` crosses).
     * Their code is fetched by `init` and guarded again, with the same rules, before `plan` runs it.
     */
    modules: z.array(z.string().min(1)).default([]),
    /** The states `terraform_remote_state` may read (backend type and config); none listed: it is refused. */
    remoteState: z.array(remoteStateEntry).default([]),
    /** Plan trees that declare git submodules (their contents are never fetched). */
    allowSubmodules: z.boolean().default(false),
  })
  .strict()
  .prefault({});

export type GuardConfig = z.output<typeof guardSchema>;
