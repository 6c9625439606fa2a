// The base of every Airlock error: a stable `code` for machines, a message that says what to do next,
// and the underlying failure kept as `cause`.

export class AirlockError extends Error {
  readonly code: string;
  /** A short instruction for the operator; printed by the CLI under the message. */
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }
}

/** Narrow an unknown throwable to something with a message, without losing non-Error throws. */
export function toError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}

/** True when `err` is an AirlockError carrying `code`. */
export function hasCode(err: unknown, code: string): boolean {
  return err instanceof AirlockError && err.code === code;
}
