import { AirlockError, type AirlockCode } from '../errors.ts';

/** A decision that changed nothing: replayed, forged, expired, mismatched, or on a run not awaiting one. */
export class ApprovalRefusedError extends AirlockError {
  readonly reason: string;
  readonly runId: string | null;

  /** `code` is a more precise code for the same refusal (a passkey check's, say). */
  constructor(runId: string | null, reason: string, hint?: string, code: AirlockCode = 'airlock:approval-refused') {
    super(code, `decision refused${runId ? ` for run ${runId}` : ''}: ${reason}`, {
      hint: hint ?? 'Nothing was changed. Check the run with `airlock show RUN`.',
    });
    this.reason = reason;
    this.runId = runId;
  }
}

/** A token file that is missing, empty, or readable by someone other than the runner user. */
export class TokenFileError extends AirlockError {
  constructor(file: string, problem: string, fix: string, cause?: unknown) {
    super('airlock:token-file', `token file ${file}: ${problem}`, { hint: fix, cause });
  }
}

export { AUTH_LOCKOUT_HINT, NtfyError } from '../ntfy/errors.ts';
