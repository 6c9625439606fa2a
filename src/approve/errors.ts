import { AirlockError } from '../errors.ts';

/** A decision that changed nothing: replayed, forged, expired, mismatched, or on a run not awaiting one. */
export class ApprovalRefusedError extends AirlockError {
  readonly reason: string;

  constructor(runId: string | null, reason: string, hint?: string) {
    super('airlock:approval-refused', `decision refused${runId ? ` for run ${runId}` : ''}: ${reason}`, {
      hint: hint ?? 'Nothing was changed. Check the run with `airlock show RUN`.',
    });
    this.reason = reason;
  }
}
