// Redis is input, not truth: anyone who can write to it (a leaked password, a wrong bind, a neighbour on
// the host) can put anything in any key. Every value read back goes through a schema here; one that fails
// is quarantined: logged once per read with a coded error and an alert-grade event, then skipped. It is
// never acted on, and the runner goes on serving everything else.
import pino, { type Logger } from 'pino';
import type { z } from 'zod';
import { AirlockError } from '../errors.ts';

/** The log event the alert rules match (deploy/alerts/airlock-audit.rules.yaml). */
export const QUARANTINE_EVENT = 'redis.quarantined';
export const QUARANTINE_CODE = 'airlock:redis-record-invalid';

export type QuarantineLog = Pick<Logger, 'error'>;

// Stores built without a logger (tools, tests) still report quarantines, on stderr.
const fallbackLog: QuarantineLog = pino({ level: 'error' }, pino.destination(2));

/** A value read from Redis that does not hold what Airlock wrote there. */
export class RedisInputError extends AirlockError {
  constructor(
    readonly kind: string,
    readonly key: string,
    readonly problems: string[],
  ) {
    super(QUARANTINE_CODE, `${kind} at Redis key ${JSON.stringify(clip(key))} is not one Airlock wrote (${problems.join('; ')}); it was quarantined and not acted on`, {
      hint: 'Someone else can write to this Redis: check its ACLs and password (deploy/redis.conf, `airlock doctor`), then delete the key.',
    });
  }
}

/** Log the alert-grade quarantine line for a value that failed its check. */
export function reportQuarantine(log: QuarantineLog | undefined, err: RedisInputError): void {
  (log ?? fallbackLog).error({ event: QUARANTINE_EVENT, code: err.code, kind: err.kind, key: clip(err.key), problems: err.problems }, err.message);
}

/** Parse `raw` with `schema`; on failure report the quarantine and return null. */
export function parseRedisValue<S extends z.ZodType>(schema: S, raw: unknown, where: { kind: string; key: string; log?: QuarantineLog }): z.output<S> | null {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  reportQuarantine(where.log, new RedisInputError(where.kind, where.key, result.error.issues.slice(0, 5).map(describeProblem)));
  return null;
}

/** Parse a JSON string from Redis with `schema`; unparsable JSON is quarantined like a schema failure. */
export function parseRedisJson<S extends z.ZodType>(schema: S, text: string, where: { kind: string; key: string; log?: QuarantineLog }): z.output<S> | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    reportQuarantine(where.log, new RedisInputError(where.kind, where.key, ['not JSON']));
    return null;
  }
  return parseRedisValue(schema, raw, where);
}

function describeProblem(issue: z.core.$ZodIssue): string {
  const at = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
  return `${clip(at, 60)}: ${clip(issue.message, 120)}`;
}

// Keys and messages may come from the attacker: bounded, and JSON-quoted where shown.
function clip(s: string, max = 200): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
