// The `policy` section of the runner config: which plans apply without a tap, which need one or two, and
// which are never applied. It lives on the runner host only; nothing in a repository can change it.
import { z } from 'zod';

const glob = z.string().min(1, 'must be a non-empty pattern');
const ruleId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'must be letters, digits, ".", "_", ":" or "-"');
const raisedTier = z.enum(['approve', 'confirm', 'deny']);
const attributePath = z
  .string()
  .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be an attribute path like "spec.replicas"');
const count = z.number().int().min(0);

const attributeLimit = z
  .object({
    id: ruleId.optional(),
    /** Address or type glob: `kubernetes_deployment.*`, `module.prod.*`, `proxmox_vm_qemu`. */
    resource: glob,
    /** Path into the planned (`after`) value; lists along the way are checked element by element. */
    attribute: attributePath,
    max: z.number().optional(),
    min: z.number().optional(),
    tier: raisedTier.default('deny'),
  })
  .strict()
  .refine((r) => r.max !== undefined || r.min !== undefined, 'must set `max`, `min` or both');

const changeLimit = z
  .object({
    id: ruleId.optional(),
    /** More changed resources than this raises the tier. */
    maxChanges: count.optional(),
    /** More deleted or replaced resources than this raises the tier. */
    maxDeletes: count.optional(),
    tier: raisedTier.default('confirm'),
  })
  .strict()
  .refine((r) => (r.maxChanges === undefined) !== (r.maxDeletes === undefined), 'must set exactly one of `maxChanges` or `maxDeletes`');

const protectedRule = z.union([
  glob.transform((match) => ({ id: undefined as string | undefined, match })),
  z.object({ id: ruleId.optional(), match: glob }).strict(),
]);

export const policySchema = z
  .object({
    /** Plans that only create or update these resource types (globs), and delete nothing, apply without a tap. */
    auto: z.object({ types: z.array(glob).default([]) }).strict().prefault({}),
    /** Address or type globs: any change needs confirmation, a delete or replace is never applied. */
    protected: z.array(protectedRule).default([]),
    /** Limits on planned attribute values, e.g. `{resource: "kubernetes_deployment.*", attribute: "spec.replicas", max: 5}`. */
    attributes: z.array(attributeLimit).default([]),
    /** Limits on how much one plan changes. */
    limits: z.array(changeLimit).default([]),
  })
  .strict()
  .prefault({});

export type PolicyConfig = z.output<typeof policySchema>;
