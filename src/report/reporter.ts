// The reporter: hears every run move (it subscribes to the run transitions) and tells the forge, best
// effort. It never blocks, fails or delays a run: `report()` only records the run's latest state and
// returns. One worker drains the backlog: updates of one (repo, sha, workspace) coalesce and the last state
// wins; a down forge is retried with backoff, a rate limit waits as long as the forge asks; the backlog is
// bounded (the oldest entry is dropped, counted and logged when it is full).
import type { Logger } from 'pino';
import type { Run } from '../run/run.ts';
import { ForgeError } from './errors.ts';
import { driftStatusFor } from './drift-report.ts';
import { createSender, type ForgeTarget } from './send.ts';
import { statusFor } from './status.ts';

export interface ReporterOptions {
  /** The forge of each repo that reports; runs of other repos are ignored. */
  forges: ReadonlyMap<string, ForgeTarget>;
  log: Logger;
  /** Most entries waiting; default 1000. */
  maxBacklog?: number;
  /** First retry delay and its cap; defaults 2 s and 5 min. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Tries before an entry is given up (logged and counted); default 50 (hours with the cap). */
  maxAttempts?: number;
  /** Where what was last reported for a run is kept (for `airlock show`). */
  onReported?: (run: Run, outcome: ReportOutcome) => void | Promise<void>;
}

export interface ReportOutcome {
  state: Run['state'];
  status: string;
  prs: number[];
  /** A drift run's living issue. */
  issue?: number;
  at: string;
  ok: boolean;
  error?: string;
}

interface Entry {
  run: Run;
  attempt: number;
  notBefore: number;
}

export interface ReporterStats {
  sent: number;
  failed: number;
  retried: number;
  dropped: number;
  backlog: number;
}

export class Reporter {
  readonly #opts: ReporterOptions;
  readonly #sender: ReturnType<typeof createSender>;
  readonly #backlog = new Map<string, Entry>();
  /** Per repo: no request before this time (a rate limit, or the forge unreachable). */
  readonly #pausedUntil = new Map<string, number>();
  /** The newest version heard of each run (bounded: the oldest are forgotten). */
  readonly #heard = new Map<string, number>();
  readonly #stats = { sent: 0, failed: 0, retried: 0, dropped: 0 };
  readonly #idleWaiters: Array<() => void> = [];
  #timer: NodeJS.Timeout | null = null;
  #working: Promise<void> | null = null;
  #stopped = false;

  constructor(opts: ReporterOptions) {
    this.#opts = opts;
    this.#sender = createSender(opts.forges, opts.log);
  }

  /** Record the run's latest state for the forge. Returns at once; never throws. */
  report(run: Run): void {
    if (this.#stopped || !this.#opts.forges.has(run.repo)) return;
    // A skipped drift check learnt nothing: the forge keeps what the last check said.
    if (run.kind === 'drift' && run.state === 'skipped') return;
    // The last state wins: a version already heard (a repeated sighting) or older (a late read) is
    // ignored, so a stale "pending" can never overwrite a final status.
    if ((this.#heard.get(run.id) ?? 0) >= run.version) return;
    this.#heard.delete(run.id);
    this.#heard.set(run.id, run.version);
    if (this.#heard.size > 10_000) this.#heard.delete(this.#heard.keys().next().value as string);
    // Drift and PR runs of one commit report apart (their own status contexts): never coalesced.
    const key = `${run.repo}\0${run.sha}\0${run.workspace}\0${run.kind ?? 'pr'}`;
    const queued = this.#backlog.get(key);
    if (!queued && this.#backlog.size >= (this.#opts.maxBacklog ?? 1000)) this.#dropOldest();
    this.#backlog.delete(key); // re-inserted at the end: the map's order is the order of the latest news
    this.#backlog.set(key, { run, attempt: queued?.attempt ?? 0, notBefore: queued?.notBefore ?? 0 });
    this.#schedule(0);
  }

  stats(): ReporterStats {
    return { ...this.#stats, backlog: this.#backlog.size };
  }

  /** Resolves when the backlog is empty (for tests and shutdown); waits through retries. */
  idle(): Promise<void> {
    if (this.#backlog.size === 0 && !this.#working) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stop: give the worker up to `graceMs` to finish what it is sending, then leave the rest (logged). */
  async stop(graceMs = 5_000): Promise<void> {
    const pending = this.#working;
    if (pending) await Promise.race([pending, new Promise((r) => setTimeout(r, graceMs).unref())]);
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#backlog.size > 0) this.#opts.log.warn({ event: 'report.unsent', code: 'airlock:report-unsent', count: this.#backlog.size }, 'stopped with reports not yet sent; the next state of those runs reports again');
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  #dropOldest(): void {
    const oldest = this.#backlog.keys().next().value as string;
    const dropped = this.#backlog.get(oldest)!;
    this.#backlog.delete(oldest);
    this.#stats.dropped++;
    this.#opts.log.warn({ event: 'report.dropped', code: 'airlock:report-backlog-full', runId: dropped.run.id, state: dropped.run.state, maxBacklog: this.#opts.maxBacklog ?? 1000 }, 'report backlog full: dropped the oldest pending report');
  }

  #schedule(delayMs: number): void {
    if (this.#stopped || this.#working) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#working = this.#drain().finally(() => {
        this.#working = null;
        this.#next();
      });
    }, delayMs);
    this.#timer.unref();
  }

  /** After a drain: wake for the earliest waiting entry, or tell the idle waiters. */
  #next(): void {
    if (this.#backlog.size === 0) {
      for (const w of this.#idleWaiters.splice(0)) w();
      return;
    }
    const soonest = Math.min(...[...this.#backlog.values()].map((e) => Math.max(e.notBefore, this.#pausedUntil.get(e.run.repo) ?? 0)));
    this.#schedule(Math.max(0, soonest - Date.now()));
  }

  async #drain(): Promise<void> {
    for (;;) {
      const now = Date.now();
      const ready = [...this.#backlog.entries()].find(([, e]) => e.notBefore <= now && (this.#pausedUntil.get(e.run.repo) ?? 0) <= now);
      if (!ready || this.#stopped) return;
      this.#backlog.delete(ready[0]);
      await this.#sendOne(ready[0], ready[1]);
    }
  }

  async #sendOne(key: string, entry: Entry): Promise<void> {
    const { run } = entry;
    let prs: number[] = [];
    try {
      const sent = await this.#sender.send(run, (found) => (prs = found));
      this.#stats.sent++;
      this.#opts.log.info({ event: 'report.sent', runId: run.id, state: run.state, status: sent.status, prs: sent.prs, ...(sent.issue ? { issue: sent.issue } : {}) }, 'reported to the forge');
      await this.#remember(run, { state: run.state, status: sent.status, prs: sent.prs, ...(sent.issue ? { issue: sent.issue } : {}), at: new Date().toISOString(), ok: true });
    } catch (thrown) {
      const err = thrown instanceof ForgeError ? thrown : new ForgeError('unavailable', 0, `report: ${(thrown as Error).message}`);
      this.#failed(key, entry, err);
      const status = run.kind === 'drift' ? (driftStatusFor(run)?.state ?? 'pending') : statusFor(run).state;
      await this.#remember(run, { state: run.state, status, prs, at: new Date().toISOString(), ok: false, error: err.code });
    }
  }

  #failed(key: string, entry: Entry, err: ForgeError): void {
    const { run } = entry;
    const attempt = entry.attempt + 1;
    const fields = { event: 'report.failed', code: err.code, status: err.status, runId: run.id, state: run.state, attempt, err: { message: err.message } };
    if (!err.retryable || attempt >= (this.#opts.maxAttempts ?? 50)) {
      this.#stats.failed++;
      this.#opts.log.error({ ...fields, hint: err.hint }, 'report to the forge failed; given up for this state (the run is unaffected)');
      return;
    }
    this.#stats.retried++;
    const backoff = Math.min(this.#opts.maxBackoffMs ?? 300_000, (this.#opts.backoffMs ?? 2_000) * 2 ** (attempt - 1));
    const wait = Math.max(err.retryAfterMs ?? 0, backoff);
    if (err.kind === 'rate-limited' || err.status === 0) this.#pausedUntil.set(run.repo, Date.now() + wait);
    this.#opts.log.warn({ ...fields, retryInMs: wait }, 'report to the forge failed; will retry (the run is unaffected)');
    const newer = this.#backlog.get(key);
    // A newer state arrived meanwhile: it goes instead, no sooner than this retry would have.
    this.#backlog.set(key, newer ? { ...newer, attempt, notBefore: Date.now() + wait } : { run, attempt, notBefore: Date.now() + wait });
  }

  async #remember(run: Run, outcome: ReportOutcome): Promise<void> {
    try {
      await this.#opts.onReported?.(run, outcome);
    } catch (err) {
      this.#opts.log.debug({ err }, 'could not record what was reported');
    }
  }
}

export function createReporter(opts: ReporterOptions): Reporter {
  return new Reporter(opts);
}
