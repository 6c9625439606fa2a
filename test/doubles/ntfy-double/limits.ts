// Per-visitor limits as ntfy keeps them (server/visitor.go). A visitor is an IP address (a user only
// when it has a tier, which the double does not model), so everything one host sends shares:
//   - the request bucket: burst 60, one more every 5 s (limitRequests, limitRequestsWithTopic); hosts in
//     visitor-request-limit-exempt-hosts skip it;
//   - at most 30 open subscriptions, a poll included while it is answered (SubscriptionAllowed);
//   - the auth-failure bucket: burst 30, one more per minute; a request with credentials is refused with
//     42909 unless more than one token is left (AuthAllowed), valid credentials included, and each
//     failed authentication takes one (AuthFailed).

/** golang.org/x/time/rate: fractional tokens refilled continuously up to the burst. */
export class TokenBucket {
  #tokens: number;
  #at = Date.now();

  constructor(
    readonly burst: number,
    readonly everyMs: number,
  ) {
    this.#tokens = burst;
  }

  tokens(): number {
    const now = Date.now();
    this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#at) / this.everyMs);
    this.#at = now;
    return this.#tokens;
  }

  /** Take one token if there is one. */
  allow(): boolean {
    if (this.tokens() < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

export interface Limits {
  /** null: no request limit at all (only tests use this). */
  requests: { burst: number; replenishMs: number } | null;
  subscriptions: number;
  authFailures: { burst: number; replenishMs: number };
  /** visitor-request-limit-exempt-hosts */
  exemptHosts: string[];
}

export const DEFAULT_LIMITS: Limits = {
  requests: { burst: 60, replenishMs: 5_000 },
  subscriptions: 30,
  authFailures: { burst: 30, replenishMs: 60_000 },
  exemptHosts: [],
};

export class Visitor {
  readonly auth: TokenBucket;
  requests: TokenBucket | null;
  subscriptions = 0;

  constructor(
    readonly ip: string,
    private readonly limits: Limits,
  ) {
    this.auth = new TokenBucket(limits.authFailures.burst, limits.authFailures.replenishMs);
    this.requests = limits.requests ? new TokenBucket(limits.requests.burst, limits.requests.replenishMs) : null;
  }

  get exempt(): boolean {
    return this.limits.exemptHosts.includes(this.ip);
  }

  requestAllowed(): boolean {
    return this.exempt || this.requests === null || this.requests.allow();
  }

  authAllowed(): boolean {
    return this.auth.tokens() > 1;
  }

  /** Take a subscription slot; the caller gives it back when the response ends. */
  subscriptionAllowed(): boolean {
    if (this.subscriptions >= this.limits.subscriptions) return false;
    this.subscriptions++;
    return true;
  }
}
