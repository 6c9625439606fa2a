// The `guard` section of the runner config: what code the runner agrees to plan. It lives on the runner
// host only; nothing in a repository can change it.
import { z } from 'zod';
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

const providerEntry = z.union([
  providerSource.transform((source) => ({ source, versions: undefined as string | undefined })),
  z.object({ source: providerSource, versions: versionConstraint.optional() }).strict(),
]);

export const guardSchema = z
  .object({
    /** strict: a file()/templatefile()-family read of a host path refuses the plan; lenient: it is a warning. */
    mode: z.enum(['strict', 'lenient']).default('strict'),
    /** Providers a pull request may use, by source address; `versions` bounds the constraints it may ask for. */
    providers: z.array(providerEntry).default([]),
    /**
     * Remote module sources a pull request may use (globs; `*` stays within one path segment, `**` crosses).
     * Their code is fetched by `init`, after the guard: list only sources whose code you trust.
     */
    modules: z.array(z.string().min(1)).default([]),
    /** Plan trees that declare git submodules (their contents are never fetched). */
    allowSubmodules: z.boolean().default(false),
  })
  .strict()
  .prefault({});

export type GuardConfig = z.output<typeof guardSchema>;
