// The humans of an iteration: every run that waits for a decision gets one, drawn from the seed and the
// run (approve, deny, or leave it waiting), given through the real CLI code (`airlock approve|deny --yes`)
// with the config of the runner that planned it. Acknowledged decisions are remembered for the checks.
import { Redis } from 'ioredis';
import { RunStore } from '../../src/run/run-store.ts';
import type { Run } from '../../src/run/run.ts';
import { main } from '../../src/cli/main.ts';
import { redisOptions } from '../../src/queue/redis-connection.ts';
import { keyed } from './rng.ts';

export interface Decision {
  runId: string;
  sha: string;
  planSha256: string;
  decision: 'approve' | 'deny' | 'leave';
  /** CLI exit code (0: acknowledged), or null when it was not answered in time. */
  code: number | null;
  at: number;
}

const silent = { out: () => undefined, err: () => undefined, isTTY: false };

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)))]).finally(() => clearTimeout(timer));
}

export class Driver {
  readonly redis: Redis;
  readonly runs: RunStore;
  readonly decisions = new Map<string, Decision>();
  inFlight = 0;
  #timer: NodeJS.Timeout | null = null;
  #busy = false;
  /** Called as a decision is about to be given (the `decision` phase of a kill). */
  onDeciding: ((run: Run) => void) | null = null;
  /** Negative controls only (breaks.ts): true takes the run from the driver, which then leaves it waiting. */
  intercept: ((run: Run) => boolean) | null = null;
  approveAll = false;

  constructor(
    readonly seed: number,
    url: string,
    prefix: string,
    private readonly configFor: (runnerId: string) => string | null,
    private readonly redisUp: () => boolean,
  ) {
    this.redis = new Redis(...redisOptions(url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 }));
    this.redis.on('error', () => undefined);
    this.runs = new RunStore(this.redis, prefix);
  }

  start(): void {
    this.#timer = setInterval(() => void this.tick(), 250);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    while (this.#busy) await new Promise((r) => setTimeout(r, 50));
    this.redis.disconnect();
  }

  /** Runs in every state, or null when Redis does not answer in time. */
  async snapshot(): Promise<Run[] | null> {
    if (!this.redisUp()) return null;
    const got = await withTimeout(this.runs.list(1000).catch(() => 'timeout' as const), 5000);
    return got === 'timeout' ? null : got;
  }

  /** Whether the driver has nothing left to decide among `runs`. */
  done(runs: Run[]): boolean {
    return this.inFlight === 0 && runs.every((r) => r.state !== 'awaiting_approval' || this.decisions.has(key(r)));
  }

  private async tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const runs = await this.snapshot();
      for (const run of runs ?? []) {
        if (run.state !== 'awaiting_approval' || !run.plan || this.decisions.has(key(run))) continue;
        await this.decide(run);
      }
    } finally {
      this.#busy = false;
    }
  }

  private async decide(run: Run): Promise<void> {
    const x = keyed(this.seed, `decide:${run.id}:${run.plan!.sha256}`);
    // With a negative control armed, every run not taken by it is approved: the breakage needs applies.
    const decision = this.intercept?.(run) ? 'leave' : this.approveAll || x < 0.7 ? 'approve' : x < 0.85 ? 'deny' : 'leave';
    const d: Decision = { runId: run.id, sha: run.sha, planSha256: run.plan!.sha256, decision, code: null, at: Date.now() };
    if (decision === 'leave') {
      this.decisions.set(key(run), d);
      return;
    }
    const file = this.configFor(run.plan!.runnerId ?? '');
    if (!file || !this.redisUp()) return; // try again at the next tick
    this.decisions.set(key(run), d);
    this.inFlight++;
    try {
      this.onDeciding?.(run);
      const code = await withTimeout(main(['node', 'airlock', decision, run.id, '--yes', '--confirm', '--config', file], silent), 15_000);
      d.code = code === 'timeout' ? null : code;
      d.at = Date.now();
    } finally {
      this.inFlight--;
    }
  }
}

function key(run: Run): string {
  return `${run.id}:${run.plan?.sha256 ?? ''}`;
}
