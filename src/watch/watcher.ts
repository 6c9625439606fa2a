// Watch: poll each repo's refs and turn every new or moved head into one run per workspace.
// Ref names are data: they are matched here and stored, never handed to git.
import type { Logger } from 'pino';
import type { RunStore } from '../run/run-store.ts';
import { currentAttempt } from '../apply/replan.ts';
import { deriveRunId } from '../run/run.ts';
import { hasCode } from '../errors.ts';
import { describeRun, RUNNER_ACTOR } from '../run/describe.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RepoConfig } from '../config/schema.ts';
import { createLimiter } from './limit-concurrency.ts';
import { listRemoteHeads, type RemoteHead } from './ls-remote.ts';
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
  /** Injected for tests; defaults to `git ls-remote`. */
  listHeads?: (url: string, patterns: string[]) => Promise<RemoteHead[]>;
  /** Defaults to DEFAULT_MAX_CONCURRENT_POLLS. */
  maxConcurrentPolls?: number;
}

export function createWatcher(deps: WatcherDeps) {
  const listHeads = deps.listHeads ?? ((url, patterns) => listRemoteHeads(url, patterns));
  // Last sha seen per repo and ref: a cache only; Redis decides what is new.
  const seen = new Map<string, Map<string, string>>();
  const timers = new Map<string, NodeJS.Timeout>();
  const inFlight = new Set<Promise<unknown>>();
  const limit = createLimiter(deps.maxConcurrentPolls ?? DEFAULT_MAX_CONCURRENT_POLLS);
  let stopped = false;
  let paused = false;
  // Runs created whose `run.sighted` record could not be written: written at the next sighting.
  const unrecorded = new Set<string>();

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

  const watcher = {
    /** Poll one repo once. Errors are logged and contained: other repos keep being served. */
    async pollRepo(repo: RepoConfig): Promise<{ heads: number; moved: number }> {
      let seenAt = Date.now();
      let heads: RemoteHead[];
      try {
        // A poll still queued when the watcher stops never starts: stop() must not wait for a whole round.
        const listed = await limit(async () => {
          if (stopped || paused) return null;
          // Taken when the listing starts, not when it was queued: replicas order sightings by it.
          seenAt = Date.now();
          return listHeads(repo.url, repo.refs);
        });
        if (listed === null) return { heads: 0, moved: 0 };
        heads = listed.filter((h) => repo.refs.some((p) => matchesRefPattern(h.ref, p)));
      } catch (err) {
        deps.log.warn({ err, repo: repo.name }, 'cannot list remote heads; will try again at the next poll');
        return { heads: 0, moved: 0 };
      }
      const known = seen.get(repo.name) ?? new Map<string, string>();
      let moved = 0;
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
      return { heads: heads.length, moved };
    },

    async pollAll(): Promise<void> {
      await Promise.all(deps.repos.map((r) => watcher.pollRepo(r)));
    },

    /** Poll every repo at its own interval until stopped; polls of one repo never overlap. */
    start(): void {
      for (const repo of deps.repos) {
        const loop = async () => {
          if (stopped) return;
          const poll = watcher.pollRepo(repo);
          inFlight.add(poll);
          await poll.finally(() => inFlight.delete(poll));
          if (!stopped) timers.set(repo.name, setTimeout(loop, repo.pollInterval));
        };
        void loop();
      }
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
