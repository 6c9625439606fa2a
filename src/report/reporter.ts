// The reporter: hears every run move (it subscribes to the run transitions) and tells the forge, best
// effort. It never blocks, fails or delays a run: `report()` only records the run's latest state and
// returns. One worker drains the backlog: updates of one (repo, sha, workspace) coalesce and the last state
// wins; a down forge is retried with backoff, a rate limit waits as long as the forge asks; the backlog is
// bounded (the oldest entry is dropped, counted and logged when it is full).
import type { Logger } from 'pino';
import type { Run } from '../run/run.ts';
import { renderComment, commentMarker } from './comment.ts';
import { ForgeError } from './errors.ts';
import type { Forge } from './forge.ts';
import { statusFor } from './status.ts';

export interface ReporterOptions {
  /** The forge of each repo that reports; runs of other repos are ignored. */
  forges: ReadonlyMap<string, { forge: Forge; comment: boolean }>;
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

export function createReporter(opts: ReporterOptions) {
  const maxBacklog = opts.maxBacklog ?? 1000;
  const baseMs = opts.backoffMs ?? 2_000;
  const capMs = opts.maxBackoffMs ?? 300_000;
  const maxAttempts = opts.maxAttempts ?? 50;
  const backlog = new Map<string, Entry>();
  /** Per repo: no request before this time (a rate limit, or the forge being down). */
  const pausedUntil = new Map<string, number>();
  /** PR comment ids found or made, per PR and marker: a restart finds them again by the marker. */
  const commentIds = new Map<string, number>();
  /** The newest version heard of each run (bounded: the oldest are forgotten). */
  const heard = new Map<string, number>();
  const stats: ReporterStats = { sent: 0, failed: 0, retried: 0, dropped: 0, backlog: 0 };
  let timer: NodeJS.Timeout | null = null;
  let working: Promise<void> | null = null;
  let stopped = false;
  const idleWaiters: Array<() => void> = [];

  const keyOf = (run: Run) => `${run.repo}\0${run.sha}\0${run.workspace}`;

  function report(run: Run): void {
    if (stopped || !opts.forges.has(run.repo)) return;
    // The last state wins: a version of the run already heard (a repeated sighting) or older (a late read)
    // is ignored, so a stale "pending" can never overwrite a final status.
    if ((heard.get(run.id) ?? 0) >= run.version) return;
    heard.delete(run.id);
    heard.set(run.id, run.version);
    if (heard.size > 10_000) heard.delete(heard.keys().next().value as string);
    const key = keyOf(run);
    const queued = backlog.get(key);
    if (!queued && backlog.size >= maxBacklog) {
      const oldest = backlog.keys().next().value as string;
      const dropped = backlog.get(oldest)!;
      backlog.delete(oldest);
      stats.dropped++;
      opts.log.warn({ event: 'report.dropped', code: 'airlock:report-backlog-full', runId: dropped.run.id, state: dropped.run.state, maxBacklog }, 'report backlog full: dropped the oldest pending report');
    }
    backlog.delete(key); // re-insert at the end: the map's order is the order of the latest news
    backlog.set(key, { run, attempt: queued?.attempt ?? 0, notBefore: queued?.notBefore ?? 0 });
    stats.backlog = backlog.size;
    schedule(0);
  }

  function schedule(delayMs: number): void {
    if (stopped || working) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      working = drain().finally(() => {
        working = null;
        next();
      });
    }, delayMs);
    timer.unref();
  }

  /** After a drain: wake for the earliest waiting entry, or tell the idle waiters. */
  function next(): void {
    stats.backlog = backlog.size;
    if (backlog.size === 0) {
      for (const w of idleWaiters.splice(0)) w();
      return;
    }
    const now = Date.now();
    const soonest = Math.min(...[...backlog.values()].map((e) => Math.max(e.notBefore, pausedUntil.get(e.run.repo) ?? 0)));
    schedule(Math.max(0, soonest - now));
  }

  async function drain(): Promise<void> {
    for (;;) {
      const now = Date.now();
      const ready = [...backlog.entries()].find(([, e]) => e.notBefore <= now && (pausedUntil.get(e.run.repo) ?? 0) <= now);
      if (!ready || stopped) return;
      const [key, entry] = ready;
      backlog.delete(key);
      await sendOne(key, entry);
    }
  }

  async function sendOne(key: string, entry: Entry): Promise<void> {
    const target = opts.forges.get(entry.run.repo)!;
    const { run } = entry;
    const status = statusFor(run);
    let prs: number[] = [];
    try {
      await target.forge.setStatus(run.sha, status);
      if (target.comment) {
        prs = await prsOf(target.forge, run);
        // Planning says nothing a comment should: the status alone shows it.
        if (run.state !== 'planning') for (const pr of prs) await upsertComment(target.forge, run, pr);
      }
      stats.sent++;
      opts.log.info({ event: 'report.sent', runId: run.id, state: run.state, status: status.state, prs }, 'reported to the forge');
      await remember(run, { state: run.state, status: status.state, prs, at: new Date().toISOString(), ok: true });
    } catch (thrown) {
      const err = thrown instanceof ForgeError ? thrown : new ForgeError('unavailable', 0, `report: ${(thrown as Error).message}`);
      const attempt = entry.attempt + 1;
      const fields = { event: 'report.failed', code: err.code, status: err.status, runId: run.id, state: run.state, attempt, err: { message: err.message } };
      if (err.retryable && attempt < maxAttempts) {
        stats.retried++;
        const wait = Math.max(err.retryAfterMs ?? 0, Math.min(capMs, baseMs * 2 ** (attempt - 1)));
        if (err.kind === 'rate-limited' || err.status === 0) pausedUntil.set(run.repo, Date.now() + wait);
        opts.log.warn({ ...fields, retryInMs: wait }, 'report to the forge failed; will retry (the run is unaffected)');
        const newer = backlog.get(key);
        // A newer state arrived meanwhile: it goes instead, no sooner than this retry would have.
        backlog.set(key, newer ? { ...newer, attempt, notBefore: Date.now() + wait } : { run, attempt, notBefore: Date.now() + wait });
      } else {
        stats.failed++;
        opts.log.error({ ...fields, hint: err.hint }, 'report to the forge failed; given up for this state (the run is unaffected)');
      }
      await remember(run, { state: run.state, status: status.state, prs, at: new Date().toISOString(), ok: false, error: err.code });
    }
  }

  async function remember(run: Run, outcome: ReportOutcome): Promise<void> {
    try {
      await opts.onReported?.(run, outcome);
    } catch (err) {
      opts.log.debug({ err }, 'could not record what was reported');
    }
  }

  async function prsOf(forge: Forge, run: Run): Promise<number[]> {
    const prs = new Set<number>(run.pr === null ? [] : [run.pr]);
    // Two PRs whose heads are one commit share one run: both hear of it. A branch run finds its PR(s).
    try {
      for (const n of await forge.pullsForCommit(run.sha)) prs.add(n);
      const branch = /^refs\/heads\/(.+)$/.exec(run.ref)?.[1];
      if (branch && prs.size === 0) for (const n of await forge.pullsForBranch(branch)) prs.add(n);
    } catch (err) {
      if (!(err instanceof ForgeError) || err.retryable) throw err;
      opts.log.debug({ err: { message: (err as Error).message }, runId: run.id }, 'could not look up the PRs of a commit; reporting to the ref\'s PR only');
    }
    return [...prs].sort((a, b) => a - b);
  }

  async function upsertComment(forge: Forge, run: Run, pr: number): Promise<void> {
    const marker = commentMarker(run.repo, run.workspace);
    const body = renderComment(run);
    const cacheKey = `${run.repo}\0${pr}\0${marker}`;
    let id = commentIds.get(cacheKey);
    if (id === undefined) id = (await forge.listComments(pr)).find((c) => c.body.startsWith(marker))?.id;
    if (id !== undefined) {
      try {
        await forge.updateComment(id, body);
        commentIds.set(cacheKey, id);
        return;
      } catch (err) {
        // Deleted by someone meanwhile: make a new one.
        if (!(err instanceof ForgeError) || err.kind !== 'not-found') throw err;
        commentIds.delete(cacheKey);
      }
    }
    commentIds.set(cacheKey, await forge.createComment(pr, body));
  }

  return {
    report,
    stats: (): ReporterStats => ({ ...stats, backlog: backlog.size }),
    /** Resolves when the backlog is empty (for tests and shutdown); waits through retries. */
    idle(): Promise<void> {
      if (backlog.size === 0 && !working) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    /** Stop: give the worker up to `graceMs` to finish what it is sending, then drop the rest (logged). */
    async stop(graceMs = 5_000): Promise<void> {
      const pending = working;
      if (pending) await Promise.race([pending, new Promise((r) => setTimeout(r, graceMs).unref())]);
      stopped = true;
      if (timer) clearTimeout(timer);
      if (backlog.size > 0) opts.log.warn({ event: 'report.unsent', code: 'airlock:report-unsent', count: backlog.size }, 'stopped with reports not yet sent; the next state of those runs will report again');
      for (const w of idleWaiters.splice(0)) w();
    },
  };
}

export type Reporter = ReturnType<typeof createReporter>;
