// What a run record read back from Redis must look like. Run ids have one format everywhere (the derived
// hex form of run.ts), checked at every boundary: queue payloads, CLI arguments, store reads, paths.
// Unknown keys are kept (other parts of the runner may add fields); known ones must have their shape.
import { z } from 'zod';
import { AirlockError } from '../errors.ts';
import { LISTING_ORDER, TIERS, type ChangeAction } from './plan-record.ts';
import { RUN_KINDS, RUN_STATES } from './run.ts';

/** `r` + 15 lowercase hex: what deriveRunId returns, and nothing else. */
export const RUN_ID_PATTERN = /^r[0-9a-f]{15}$/;

export const runIdSchema = z.string().regex(RUN_ID_PATTERN, 'must be a run id (r + 15 hex digits)');

/** Whether `value` is a run id in the one format Airlock makes. */
export function isRunId(value: unknown): boolean {
  return typeof value === 'string' && RUN_ID_PATTERN.test(value);
}

export class BadRunIdError extends AirlockError {
  constructor(value: unknown, where: string) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value;
    super('airlock:bad-run-id', `${where}: ${shown} is not a run id (r followed by 15 hex digits)`, { hint: 'Copy the id from `airlock runs`.' });
  }
}

/** The run id, or a coded error naming where the bad value came from. */
export function parseRunId(value: unknown, where: string): string {
  if (!isRunId(value)) throw new BadRunIdError(value, where);
  return value as string;
}

/**
 * A W3C trace-context `traceparent` of version 00: trace id (32 hex, not all zero), parent span id (16 hex,
 * not all zero), flags. Nothing else, so no text rides into a trace from Redis.
 */
export const TRACEPARENT_PATTERN = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const gitId = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/);
const configName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/);
const time = z.string().max(40).refine((s) => !Number.isNaN(Date.parse(s)), 'must be a time');
const text = (max: number) => z.string().max(max);
const count = z.number().int().nonnegative();
const tier = z.enum(TIERS);
const actor = z.looseObject({ kind: z.enum(['agent', 'human', 'runner']), id: text(300) });

// Counts added to the summary later (import, move, output, imported, moved) may be missing from older records.
export const planSummarySchema = z.looseObject({
  formatVersion: text(40),
  engineVersion: text(80),
  counts: z.looseObject({
    create: count,
    update: count,
    delete: count,
    replace: count,
    forget: count,
    read: count,
    noop: count,
    import: count.optional(),
    move: count.optional(),
    output: count.optional(),
    imported: count.optional(),
    moved: count.optional(),
  }),
  changes: z
    .array(z.looseObject({ address: text(4096), action: z.enum(LISTING_ORDER as [ChangeAction, ...ChangeAction[]]), movedFrom: text(4096).optional(), imported: z.boolean().optional() }))
    .max(100_000),
  listed: count,
  total: count,
  errored: z.boolean(),
  drift: z
    .looseObject({ changes: z.array(z.looseObject({ address: text(4096), action: z.enum(['update', 'delete']) })).max(100_000), listed: count, total: count })
    .optional(),
});

const planSchema = z.looseObject({
  sha256: hex64,
  summary: planSummarySchema,
  tier,
  reasons: z.array(text(4096)).max(1000),
  engineVersion: text(80),
  treeId: gitId,
  runnerId: configName.optional(),
});

export const runSchema = z.looseObject({
  id: runIdSchema,
  repo: configName,
  // PATH_MAX: git stores a ref as a file path, so no longer ref can exist.
  ref: text(4096),
  pr: count.nullable(),
  sha: gitId,
  workspace: configName,
  state: z.enum(RUN_STATES),
  version: z.number().int().positive(),
  createdAt: time,
  updatedAt: time,
  author: text(1024).optional(),
  committer: text(1024).optional(),
  agent: text(300).nullable().optional(),
  fingerprint: z.looseObject({ sha256: hex64 }).optional(),
  plan: planSchema.optional(),
  approval: z
    .looseObject({
      requestedAt: time,
      expiresAt: time,
      tier,
      channel: text(40),
      phase: z.enum(['approve', 'confirm']).optional(),
      firstApproval: z.looseObject({ by: actor, at: time }).optional(),
      held: z.boolean().optional(),
    })
    .optional(),
  decision: z
    .looseObject({ decision: z.enum(['approve', 'deny']), by: actor, channel: text(40), breakGlass: z.boolean(), at: time, planSha256: hex64 })
    .optional(),
  apply: z
    .looseObject({ startedAt: time, finishedAt: time.optional(), fence: count, runnerId: configName, host: text(255), pid: z.number().int().positive() })
    .optional(),
  error: z.looseObject({ code: text(100), message: text(1_000_000), tail: text(1_000_000).optional() }).optional(),
  attention: z.looseObject({ reason: text(1_000_000), lockId: text(200).optional(), outputTail: text(1_000_000).optional() }).optional(),
  refusal: z.array(text(4096)).optional(),
  supersededBy: runIdSchema.optional(),
  cancelled: z.looseObject({ by: actor, at: time, reason: text(1000).optional() }).optional(),
  supersededReason: text(500).optional(),
  attempt: z.number().int().min(2).max(10_000).optional(),
  replanOf: runIdSchema.optional(),
  replannedBy: runIdSchema.optional(),
  kind: z.enum(RUN_KINDS).optional(),
  driftSlot: time.optional(),
  traceparent: z.string().regex(TRACEPARENT_PATTERN, 'must be a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)').optional(),
  driftNotice: z.looseObject({ outcome: z.enum(['notified', 'suppressed']), reason: text(1000), fingerprint: hex64 }).optional(),
  driftLock: z.looseObject({ whenLocked: z.enum(['skip', 'wait']), outcome: z.enum(['waited', 'skipped']), holder: text(300).nullable(), waitedMs: count }).optional(),
  restored: z
    .looseObject({ at: time, lastRecord: z.looseObject({ type: text(100), time, seq: count }), recordedState: z.enum(RUN_STATES) })
    .optional(),
});
