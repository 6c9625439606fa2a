// Watch: poll each remote's refs and turn every new or moved head into one run per workspace.
// Ref names are data: they are matched here and stored, never handed to git. Repos that share a URL are
// listed once per round; a repo whose remote advertises exactly what it did at its last clean poll (same
// digest) is skipped without parsing; after the first round, each remote's polls are spread evenly over
// its interval instead of all remotes being listed at the same moment. The refs that drift checks plan
// are listed too: when one moves, a drift run of an older head that is still undecided is superseded
// (its plan would put back the older code).
import type { Logger } from 'pino';
import type { RunStore } from '../run/run-store.ts';
import { currentAttempt } from '../apply/replan.ts';
import { deriveRunId, isFinal } from '../run/run.ts';
import { hasCode } from '../errors.ts';
import { describeRun, RUNNER_ACTOR } from '../run/describe.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RepoConfig } from '../config/schema.ts';
import { createLimiter } from './limit-concurrency.ts';
import { digestOf, listRemote, type RemoteHead, type RemoteListing } from './ls-remote.ts';
import { matchesRefPattern, prNumberFromRef } from './refs.ts';

/** Remote listings in flight at once, across all repos (see limit-concurrency.ts for why). */
export const DEFAULT_MAX_CONCURRENT_POLLS = 8;

export interface WatcherDeps {
  repos: RepoConfig[];
  runs: RunStore;
  audit: AuditLog;
  log: Logger;
  enqueuePlan(runId: string): Promise<void>;
  supersede(runId: string, by: string): Promise<unknown>;
  /** Injected for tests; defaults to listRemote (`git ls-remote`, or a `file://` remote read in process). */
  listHeads?: (url: string, patterns: string[]) => Promise<RemoteHead[]>;
  /** Always ask `git ls-remote`, even for a `file://` remote (the benchmark's before side). */
  listViaGit?: boolean;
  /** Defaults to DEFAULT_MAX_CONCURRENT_POLLS. */
  maxConcurrentPolls?: number;
}

export function createWatcher(deps: WatcherDeps) {
  const injected = deps.listHeads;
  const list = async (url: string, patterns: string[]): Promise<RemoteListing> => {
    if (!injected) return listRemote(url, { viaGit: deps.listViaGit === true });
    const heads = await injected(url, patterns);
    return { heads: () => heads, digest: digestOf(JSON.stringify(heads)) };
  };
  // Last sha seen per repo and ref: a cache only; Redis decides what is new.
  const seen = new Map<string, Map<string, string>>();
  // The same, for the refs drift checks plan.
  const seenDrift = new Map<string, Map<string, string>>();
  // The digest of the listing each repo last processed with nothing left to retry.
  const clean = new Map<string, { digest: string; heads: number }>();
  const timers = new Map<string, NodeJS.Timeout>();
  const inFlight = new Set<Promise<unknown>>();
  const limit = createLimiter(deps.maxConcurrentPolls ?? DEFAULT_MAX_CONCURRENT_POLLS);
  let stopped = false;
  let paused = false;
  // Runs created whose `run.sighted` record could not be written: written at the next sighting.
  const unrecorded = new Set<string>();

  // Repos by URL, each URL listed once per round for all its repos' patterns.
  const byUrl = new Map<string, RepoConfig[]>();
  for (const repo of deps.repos) byUrl.set(repo.url, [...(byUrl.get(repo.url) ?? []), repo]);

  /** List `url` once (through the limiter); null when the watcher stopped before it started. */
  function driftRefsOf(repo: RepoConfig): string[] {
    return [...new Set(repo.workspaces.flatMap((w) => (w.drift ? [w.drift.ref] : [])))];
  }

  async function listOnce(url: string, repos: RepoConfig[]): Promise<{ listing: RemoteListing; seenAt: number } | null> {
    // A poll still queued when the watcher stops never starts: stop() must not wait for a whole round.
    return limit(async () => {
      if (stopped || paused) return null;
      // Taken when the listing starts, not when it was queued: replicas order sightings by it.
      const seenAt = Date.now();
      return { listing: await list(url, [...new Set(repos.flatMap((r) => [...r.refs, ...driftRefsOf(r)]))]), seenAt };
    });
  }

  async function sight(repo: RepoConfig, head: RemoteHead, seenAt: number): Promise<void> {
    const pr = prNumberFromRef(head.ref);
    for (const ws of repo.workspaces) {
      const result = await deps.runs.create({ repo: repo.name, ref: head.ref, pr, sha: head.sha, workspace: ws.name, seenAt });
      // delete() takes the retry for one sighting only, even when two polls of the head run at once.
      if (result.created || unrecorded.delete(result.run.id)) {
        await deps.audit.append({ type: 'run.sighted', ...describeRun(result.run), actor: RUNNER_ACTOR, detail: { latest: result.latest } }).catch((err: unknown) => {
          unrecorded.add(result.run.id);
          throw err;
        });
        deps.log.info({ runId: result.run.id, repo: repo.name, workspace: ws.name, ref: head.ref, sha: head.sha }, 'new head');
      }
      if (result.previous) await deps.supersede(result.previous, result.run.id);
      if (result.created && !result.latest) {
        await deps.supersede(result.run.id, 'a newer sighting of the same pull request');
        continue;
      }
      // Enqueue whenever the run still plans: job ids make this idempotent, and it heals a crash
      // between creating the run and enqueueing it.
      if (result.run.state === 'planning') await deps.enqueuePlan(result.run.id);
    }
  }

  /** A drift-checked ref moved: undecided drift runs of an older head of it are superseded. */
  async function supersedeOlderDrift(repo: RepoConfig, head: RemoteHead): Promise<void> {
    for (const ws of repo.workspaces.filter((w) => w.drift?.ref === head.ref)) {
      const latest = await deps.runs.latestFor({ repo: repo.name, pr: null, ref: head.ref, workspace: ws.name, kind: 'drift' });
      const run = latest === null ? null : await deps.runs.find(latest);
      if (!run || run.sha === head.sha || isFinal(run.state)) continue;
      deps.log.info({ runId: run.id, repo: repo.name, workspace: ws.name, ref: head.ref, sha: head.sha }, 'a newer head supersedes an undecided drift run');
      await deps.supersede(run.id, `a newer head of ${head.ref} (${head.sha.slice(0, 12)}): the drift check planned an older commit`);
    }
  }

  /** False when a drift run could not be checked: the listing is then processed again at the next poll. */
  async function pollDriftRefs(repo: RepoConfig, listed: RemoteHead[], driftRefs: string[]): Promise<boolean> {
    const known = seenDrift.get(repo.name) ?? new Map<string, string>();
    let ok = true;
    for (const head of listed.filter((h) => driftRefs.includes(h.ref))) {
      if (known.get(head.ref) === head.sha) continue;
      try {
        await supersedeOlderDrift(repo, head);
        known.set(head.ref, head.sha);
      } catch (err) {
        ok = false;
        deps.log.error({ err, repo: repo.name, ref: head.ref }, 'cannot check drift runs against a new head; will try again at the next poll');
      }
    }
    seenDrift.set(repo.name, known);
    return ok;
  }

  /** Turn one listing into sightings for `repo`; skipped when it is the listing last processed cleanly. */
  async function applyListing(repo: RepoConfig, listing: RemoteListing, seenAt: number): Promise<{ heads: number; moved: number }> {
    const last = clean.get(repo.name);
    if (last?.digest === listing.digest) return { heads: last.heads, moved: 0 };
    const heads = listing.heads().filter((h) => repo.refs.some((p) => matchesRefPattern(h.ref, p)));
    const known = seen.get(repo.name) ?? new Map<string, string>();
    let moved = 0;
    let retry = false;
    for (const head of heads) {
      if (known.get(head.ref) === head.sha) continue;
      try {
        await sight(repo, head, seenAt);
        known.set(head.ref, head.sha);
        moved++;
      } catch (err) {
        if (hasCode(err, 'airlock:run-invalid')) {
          // Permanent: said once, not at every poll.
          deps.log.warn({ err, repo: repo.name }, 'a head that cannot become a run was skipped');
          known.set(head.ref, head.sha);
        } else {
          retry = true;
          deps.log.error({ err, repo: repo.name, ref: head.ref }, 'cannot record a new head; will try again at the next poll');
        }
      }
    }
    // A ref that disappeared (PR closed or branch deleted): its pending runs can no longer be approved.
    const current = new Set(heads.map((h) => h.ref));
    for (const [ref, sha] of known) {
      if (current.has(ref)) continue;
      known.delete(ref);
      for (const ws of repo.workspaces) {
        // The head's newest attempt, in case an operator replanned it (apply/replan.ts).
        await currentAttempt(deps.runs, deriveRunId(repo.name, ws.name, sha))
          .then((id) => deps.supersede(id, 'the ref was deleted'))
          .catch(() => undefined);
      }
    }
    seen.set(repo.name, known);
    const driftRefs = driftRefsOf(repo);
    if (driftRefs.length > 0 && !(await pollDriftRefs(repo, listing.heads(), driftRefs))) retry = true;
    if (retry) clean.delete(repo.name);
    else clean.set(repo.name, { digest: listing.digest, heads: heads.length });
    return { heads: heads.length, moved };
  }

  /** Poll one URL for all its repos. Errors are logged and contained: other remotes keep being served. */
  async function pollUrl(url: string, repos: RepoConfig[]): Promise<Array<{ heads: number; moved: number }>> {
    let listed: Awaited<ReturnType<typeof listOnce>>;
    try {
      listed = await listOnce(url, repos);
    } catch (err) {
      for (const repo of repos) deps.log.warn({ err, repo: repo.name }, 'cannot list remote heads; will try again at the next poll');
      return repos.map(() => ({ heads: 0, moved: 0 }));
    }
    if (listed === null) return repos.map(() => ({ heads: 0, moved: 0 }));
    const results = [];
    for (const repo of repos) results.push(await applyListing(repo, listed.listing, listed.seenAt));
    return results;
  }

  const watcher = {
    /** Poll one repo once. Errors are logged and contained: other repos keep being served. */
    async pollRepo(repo: RepoConfig): Promise<{ heads: number; moved: number }> {
      return (await pollUrl(repo.url, [repo]))[0]!;
    },

    /** One round: every URL listed once, for all the repos that use it. */
    async pollAll(): Promise<void> {
      await Promise.all([...byUrl].map(([url, repos]) => pollUrl(url, repos)));
    },

    /**
     * Poll every URL at its repos' shortest interval until stopped; polls of one URL never overlap. The first
     * round starts at once; after it, URL i of n is polled at start + (i/n + k) × interval, so a round's
     * listings are spread over the interval rather than made in one burst.
     */
    start(): void {
      const t0 = Date.now();
      const groups = [...byUrl];
      groups.forEach(([url, repos], i) => {
        const interval = Math.min(...repos.map((r) => r.pollInterval));
        const phase = (i / groups.length) * interval;
        const loop = async () => {
          if (stopped) return;
          const poll = pollUrl(url, repos);
          inFlight.add(poll);
          await poll.finally(() => inFlight.delete(poll));
          if (stopped) return;
          // The next slot of this URL's schedule that is still ahead: a slow poll skips slots, never bunches up.
          const k = Math.max(1, Math.floor((Date.now() - t0 - phase) / interval) + 1);
          timers.set(url, setTimeout(loop, Math.max(0, t0 + phase + k * interval - Date.now())));
        };
        void loop();
      });
    },

    /** Skip polls until resume() (the audit chain cannot be written: nothing new is sighted meanwhile). */
    pause(): void {
      paused = true;
    },
    resume(): void {
      paused = false;
    },

    /** Stop polling and wait for polls under way, so nothing writes after the runner closes. */
    async stop(): Promise<void> {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
      await Promise.allSettled([...inFlight]);
    },
  };
  return watcher;
}

export type Watcher = ReturnType<typeof createWatcher>;
