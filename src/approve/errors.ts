import { AirlockError } from '../errors.ts';

/** A decision that changed nothing: replayed, forged, expired, mismatched, or on a run not awaiting one. */
export class ApprovalRefusedError extends AirlockError {
  readonly reason: string;
  readonly runId: string | null;

  /** `code` is a more precise code for the same refusal (a passkey check's, say). */
  constructor(runId: string | null, reason: string, hint?: string, code = 'airlock:approval-refused') {
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

/** ntfy answered with an error (its JSON `{code, http, error}`), or could not be reached. */
export class NtfyError extends AirlockError {
  /** HTTP status; 0 when the server could not be reached. */
  readonly status: number;
  /** ntfy's own error code (40101, 40301, 42901…), when it sent one. */
  readonly ntfyCode: number | null;
  /** Seconds to wait, from `Retry-After` on a 429. */
  readonly retryAfterS: number | null;

  constructor(what: string, status: number, ntfyCode: number | null, detail: string, options: { retryAfterS?: number | null; cause?: unknown } = {}) {
    super(ntfyErrorCode(status, ntfyCode), `ntfy ${what}: ${status === 0 ? 'unreachable' : `HTTP ${status}${ntfyCode ? ` (${ntfyCode})` : ''}`}: ${detail}`, {
      hint: ntfyHint(status, ntfyCode),
      cause: options.cause,
    });
    this.status = status;
    this.ntfyCode = ntfyCode;
    this.retryAfterS = options.retryAfterS ?? null;
  }

  /**
   * Whether asking again soon may work (network, 5xx, the request limit). A lockout after failed logins
   * (42909) lasts minutes and fixes nothing until a token is fixed; no other 4xx fixes itself.
   */
  get transient(): boolean {
    return this.status === 0 || (this.status === 429 && this.ntfyCode !== AUTH_LOCKOUT) || this.status >= 500;
  }

  /** ntfy refuses every request with credentials from this address after too many failed logins. */
  get authLockout(): boolean {
    return this.status === 429 && this.ntfyCode === AUTH_LOCKOUT;
  }
}

// server/errors.go: errHTTPTooManyRequestsLimitAuthFailure and errHTTPTooManyRequestsLimitSubscriptions.
const AUTH_LOCKOUT = 42909;
const TOO_MANY_SUBSCRIPTIONS = 42903;

/** What to say about ntfy's lockout after failed logins, wherever it is met. */
export const AUTH_LOCKOUT_HINT =
  'ntfy locked out this address after 30 failed logins (42909): it now refuses every request that carries a token, valid ones included, and lets one attempt through per minute. A token sent from this host is wrong or revoked: run `airlock doctor` to find it, fix the token file, and the lockout passes within minutes.';

function ntfyErrorCode(status: number, ntfyCode: number | null): string {
  if (status === 429 && ntfyCode === AUTH_LOCKOUT) return 'airlock:ntfy-auth-lockout';
  if (status === 429 && ntfyCode === TOO_MANY_SUBSCRIPTIONS) return 'airlock:ntfy-too-many-subscriptions';
  if (status === 401) return 'airlock:ntfy-unauthorized';
  if (status === 403) return 'airlock:ntfy-forbidden';
  if (status === 429) return 'airlock:ntfy-rate-limited';
  if (status === 0) return 'airlock:ntfy-unreachable';
  return 'airlock:ntfy-error';
}

function ntfyHint(status: number, ntfyCode: number | null): string {
  if (status === 429 && ntfyCode === AUTH_LOCKOUT) return AUTH_LOCKOUT_HINT;
  if (status === 429 && ntfyCode === TOO_MANY_SUBSCRIPTIONS) return 'ntfy allows 30 open subscriptions per address (42903); the runner opens one per few dozen reply topics, so something else on this host holds the rest. Stop it, or raise visitor-subscription-limit in server.yml.';
  if (status === 401) return 'The server does not know this token (40101). Check the token file, or create the token again with `ntfy token add USER`.';
  if (status === 403) return 'The token is valid but its user lacks access to the topic (40301). Grant it with `ntfy access USER TOPIC read-only|write-only`; `airlock doctor` lists each grant the runner needs.';
  if (status === 429) return 'ntfy limits requests per address (42901: a burst of 60, then one every 5 s), shared by the runner, its streams and `airlock doctor` on this host. The runner backs off and retries; exempt the runner host (visitor-request-limit-exempt-hosts) and set `approval.ntfy.requestBudget: false` if it persists.';
  if (status === 0) return 'Check `approval.ntfy.url`, DNS and the egress rules of the runner host.';
  return 'See the ntfy server log.';
}
