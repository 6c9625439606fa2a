// The runner's own pace toward ntfy. ntfy limits requests per IP address, not per user (server/visitor.go:
// a burst of 60, then one every 5 s), so the publisher, the reply streams, polls and `airlock doctor` on
// the runner host all draw from one bucket. The runner keeps below it by waiting for its own budget, a
// token bucket like the server's, instead of running into 429s; README "Approving from a phone" states it.

export interface BudgetConfig {
  burst: number;
  everyMs: number;
}

/** What the runner allows itself by default: two thirds of ntfy's default burst, a slower refill. */
export const DEFAULT_BUDGET: BudgetConfig = { burst: 40, everyMs: 6_000 };

/** A token bucket the client waits on before each request (golang.org/x/time/rate semantics, like the server's). */
export class RequestBudget {
  #tokens: number;
  #at = Date.now();

  constructor(readonly config: BudgetConfig) {
    this.#tokens = config.burst;
  }

  #refill(): number {
    const now = Date.now();
    this.#tokens = Math.min(this.config.burst, this.#tokens + (now - this.#at) / this.config.everyMs);
    this.#at = now;
    return this.#tokens;
  }

  /** Wait until a request may go out, and spend it; rejects if `signal` aborts first. */
  async take(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      if (this.#refill() >= 1) {
        this.#tokens -= 1;
        return;
      }
      await sleep((1 - this.#tokens) * this.config.everyMs, signal);
    }
  }

  /** The server said 42901: another client on this host spent the shared bucket; start from empty. */
  drain(): void {
    this.#refill();
    this.#tokens = Math.min(this.#tokens, 0);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, Math.max(1, Math.ceil(ms)));
    function done() {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort() {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', abort, { once: true });
  });
}
