// The base of every Airlock error: a stable `code` for machines, a message that says what to do next,
// and the underlying failure kept as `cause`. Codes are registered in error-codes.ts.
import { isRetryableCode, type AirlockCode } from './error-codes.ts';

export type { AirlockCode };

export class AirlockError extends Error {
  readonly code: AirlockCode;
  /** A short instruction for the operator; printed by the CLI under the message. */
  readonly hint: string | undefined;

  constructor(code: AirlockCode, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }

  /** Worth another plan attempt (a host outage), per the code's registration; an apply is never retried. */
  get retryable(): boolean {
    return isRetryableCode(this.code);
  }
}

/** Narrow an unknown throwable to something with a message, without losing non-Error throws. */
export function toError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}

/** True when `err` is an AirlockError carrying `code`. */
export function hasCode(err: unknown, code: AirlockCode): boolean {
  return err instanceof AirlockError && err.code === code;
}
