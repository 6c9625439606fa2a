// zod types for the config's human units, shared by every domain's config section.
import { z } from 'zod';
import { DURATION_FORM, parseDuration, parseSize } from './units.ts';

/** A duration string like "15m" or "1h30m", parsed to milliseconds; `example` is shown in the error. */
export const duration = (example: string) =>
  z
    .string({ error: durationMessage(example) })
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: durationMessage(example) });
        return z.NEVER;
      }
      return ms;
    });

/** A size string like "50MiB", parsed to bytes. */
export const size = (example: string) =>
  z
    .string({ error: `must be a size like "${example}"` })
    .transform((text, ctx) => {
      const bytes = parseSize(text);
      if (bytes === null) {
        ctx.addIssue({ code: 'custom', message: `must be a size like "${example}"` });
        return z.NEVER;
      }
      return bytes;
    });

/** What a config error says about a bad duration. */
export function durationMessage(example: string): string {
  return `must be a duration like "${example}" (${DURATION_FORM})`;
}
