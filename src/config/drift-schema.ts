// A workspace's drift schedule: when to plan the default branch's head to find what changed outside of
// Airlock. The cron expression is checked here with the scheduler's own library, so a typo fails at load.
import { createRequire } from 'node:module';
import { z } from 'zod';
import { duration } from '../lib/zod-units.ts';

// cron-parser (and luxon under it) loads only for a config that schedules drift checks.
let parser: typeof import('cron-parser').CronExpressionParser | undefined;
const cronParser = () => (parser ??= (createRequire(import.meta.url)('cron-parser') as typeof import('cron-parser')).CronExpressionParser);

const CRON_HINT = 'must be a cron expression like "0 */6 * * *" (minute hour day-of-month month day-of-week, optionally a leading seconds field)';

const cron = z
  .string()
  .max(200)
  .superRefine((text, ctx) => {
    // Five or six fields: cron-parser also takes shortcuts and ranges we do not need to document.
    const fields = text.trim().split(/\s+/).length;
    if (fields < 5 || fields > 6) return void ctx.addIssue({ code: 'custom', message: `${CRON_HINT}; got ${fields} fields` });
    try {
      cronParser().parse(text, { tz: 'UTC' });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${CRON_HINT}: ${(err as Error).message}` });
    }
  });

const timezone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone like "UTC" or "Europe/Berlin"');

export const driftSchema = z
  .object({
    /** When to check, in `timezone`. */
    schedule: cron,
    /** The ref whose head is planned: the branch that is applied, usually the default branch. */
    ref: z
      .string()
      .regex(/^refs\/[A-Za-z0-9._/-]+$/, 'must be a full ref name like "refs/heads/main" (no wildcards)')
      .refine((r) => !r.includes('..') && !r.includes('//') && !r.endsWith('/'), 'must be a full ref name like "refs/heads/main"')
      .default('refs/heads/main'),
    timezone: timezone.default('UTC'),
    /** Each slot fires up to this much later, the same for every runner, so many workspaces do not plan at once. */
    jitter: duration('5m').prefault('5m'),
    /** Policy `auto` applies drift runs' plans without a tap only when this is true; otherwise someone approves. */
    autoApply: z.boolean().default(false),
    /**
     * A check that finds the workspace lock held (an apply under way) skips its slot (the default: the next
     * slot checks again), or waits up to `lockWait` for it and then skips.
     */
    whenLocked: z.enum(['skip', 'wait']).default('skip'),
    lockWait: duration('10m').prefault('10m'),
  })
  .strict();

export type DriftConfig = z.infer<typeof driftSchema>;
