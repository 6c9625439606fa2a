// What can go wrong talking to a forge, as coded errors. A forge's answer is shown only as its status and
// its own short message, scrubbed and cut: never a request header, so never the token.
import { AirlockError } from '../errors.ts';
import { scrubber } from '../log/scrub.ts';

export type ForgeErrorKind = 'auth' | 'forbidden' | 'not-found' | 'invalid' | 'rate-limited' | 'unavailable';

const HINTS: Record<ForgeErrorKind, string> = {
  auth: 'The forge refused the token: check the token file named by `repos[].forge.tokenFile` (expired or revoked?). Run `airlock doctor`.',
  forbidden: 'The token lacks a permission: GitHub needs "Commit statuses: write" and "Pull requests: write" on this repo ("Issues: write" too for drift issues, or set `forge.driftIssue: false`); Gitea/Forgejo a token with write:repository and write:issue.',
  'not-found': 'Check `repos[].forge.owner`/`name` and `apiUrl`; a token without access to a private repo also sees 404.',
  invalid: 'The forge refused the request as invalid; this is a bug in Airlock\'s report if it repeats.',
  'rate-limited': 'The forge limits requests; Airlock waits as the forge asks and catches up.',
  unavailable: 'The forge is down or unreachable; Airlock retries with backoff and catches up when it returns.',
};

export class ForgeError extends AirlockError {
  readonly kind: ForgeErrorKind;
  /** HTTP status; 0 when the forge could not be reached. */
  readonly status: number;
  /** How long the forge asked us to wait (Retry-After, x-ratelimit-reset), when it said. */
  readonly retryAfterMs: number | undefined;

  constructor(kind: ForgeErrorKind, status: number, message: string, retryAfterMs?: number) {
    super(`airlock:forge-${kind}`, scrubber.scrubString(message).slice(0, 500), { hint: HINTS[kind] });
    this.kind = kind;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

type HeaderGet = (name: string) => string | null | undefined;

/**
 * Classify one forge answer. GitHub: 401 bad credentials; 403/429 with `x-ratelimit-remaining: 0` is the
 * primary limit (wait until `x-ratelimit-reset`), with `retry-after` or a "secondary rate limit" message the
 * secondary one (wait `retry-after`, else at least a minute); other 403s are missing permissions. Gitea and
 * Forgejo answer `{message, url}` with the same status codes, and 429 only behind a limiting proxy.
 */
export function forgeErrorFrom(status: number, header: HeaderGet, body: unknown, what: string, nowMs = Date.now()): ForgeError {
  const message = `${what}: HTTP ${status}${messageOf(body) ? ` ${messageOf(body)}` : ''}`;
  const retryAfter = retryAfterMs(header, nowMs);
  const remaining = header('x-ratelimit-remaining');
  const secondary = /secondary rate limit|abuse/i.test(messageOf(body));
  if (status === 429 || (status === 403 && (remaining === '0' || secondary || header('retry-after')))) {
    return new ForgeError('rate-limited', status, message, retryAfter ?? (secondary ? 60_000 : undefined));
  }
  if (status === 401) return new ForgeError('auth', status, message);
  if (status === 403) return new ForgeError('forbidden', status, message);
  if (status === 404) return new ForgeError('not-found', status, message);
  if (status === 400 || status === 422) return new ForgeError('invalid', status, message);
  if (status === 408 || status >= 500) return new ForgeError('unavailable', status, message, retryAfter);
  return new ForgeError('invalid', status, message);
}

/** An error from fetch itself: the forge could not be reached at all. */
export function unreachable(what: string, err: unknown): ForgeError {
  const reason = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name ?? 'error';
  return new ForgeError('unavailable', 0, `${what}: cannot reach the forge (${reason})`);
}

function retryAfterMs(header: HeaderGet, nowMs: number): number | undefined {
  const after = header('retry-after');
  if (after) {
    const seconds = Number(after);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const at = Date.parse(after);
    if (!Number.isNaN(at)) return Math.max(0, at - nowMs);
  }
  const reset = Number(header('x-ratelimit-reset'));
  if (header('x-ratelimit-remaining') === '0' && Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - nowMs);
  return undefined;
}

function messageOf(body: unknown): string {
  if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') {
    const errors = (body as { errors?: unknown }).errors;
    const detail = Array.isArray(errors) ? errors.map((e) => (e && typeof e === 'object' ? String((e as { message?: unknown }).message ?? (e as { code?: unknown }).code ?? '') : String(e))).filter(Boolean).join('; ') : '';
    return `${(body as { message: string }).message}${detail ? ` (${detail})` : ''}`.slice(0, 300);
  }
  return '';
}
