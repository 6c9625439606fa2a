import { AirlockError } from '../errors.ts';

/** A decision that changed nothing: replayed, forged, expired, mismatched, or on a run not awaiting one. */
export class ApprovalRefusedError extends AirlockError {
  readonly reason: string;
  readonly runId: string | null;

  constructor(runId: string | null, reason: string, hint?: string) {
    super('airlock:approval-refused', `decision refused${runId ? ` for run ${runId}` : ''}: ${reason}`, {
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

/** ntfy answered with an error (its JSON `{code, http, error}`), or could not be reached. */
export class NtfyError extends AirlockError {
  /** HTTP status; 0 when the server could not be reached. */
  readonly status: number;
  /** ntfy's own error code (40101, 40301, 42901…), when it sent one. */
  readonly ntfyCode: number | null;
  /** Seconds to wait, from `Retry-After` on a 429. */
  readonly retryAfterS: number | null;

  constructor(what: string, status: number, ntfyCode: number | null, detail: string, options: { retryAfterS?: number | null; cause?: unknown } = {}) {
    super(ntfyErrorCode(status), `ntfy ${what}: ${status === 0 ? 'unreachable' : `HTTP ${status}${ntfyCode ? ` (${ntfyCode})` : ''}`}: ${detail}`, {
      hint: ntfyHint(status),
      cause: options.cause,
    });
    this.status = status;
    this.ntfyCode = ntfyCode;
    this.retryAfterS = options.retryAfterS ?? null;
  }

  /** Whether asking again later may work (network, 429, 5xx); a 4xx other than 429 will not fix itself. */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

function ntfyErrorCode(status: number): string {
  if (status === 401) return 'airlock:ntfy-unauthorized';
  if (status === 403) return 'airlock:ntfy-forbidden';
  if (status === 429) return 'airlock:ntfy-rate-limited';
  if (status === 0) return 'airlock:ntfy-unreachable';
  return 'airlock:ntfy-error';
}

function ntfyHint(status: number): string {
  if (status === 401) return 'The server does not know this token (40101). Check the token file, or create the token again with `ntfy token add USER`.';
  if (status === 403) return 'The token is valid but its user lacks access to the topic (40301). Grant it with `ntfy access USER TOPIC read-only|write-only`; `airlock doctor` lists each grant the runner needs.';
  if (status === 429) return 'The server is rate limiting this runner; it backs off and retries. Raise the visitor limits for the runner in server.yml if it persists.';
  if (status === 0) return 'Check `approval.ntfy.url`, DNS and the egress rules of the runner host.';
  return 'See the ntfy server log.';
}
