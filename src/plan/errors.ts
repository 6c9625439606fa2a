import { AirlockError } from '../errors.ts';

/** `show -json` output that cannot be summarised: malformed, truncated, an unknown format, or an unknown action. */
export class PlanJsonError extends AirlockError {
  /** Where in the file the problem was found, when the reader knows it. */
  readonly byteOffset: number | undefined;

  constructor(message: string, options: { cause?: unknown; hint?: string; byteOffset?: number } = {}) {
    super('airlock:plan-json', message, {
      cause: options.cause,
      hint:
        options.hint ??
        'The plan cannot be shown safely, so it will not be offered for approval. Check the engine version and the `show -json` output.',
    });
    this.byteOffset = options.byteOffset;
  }
}
