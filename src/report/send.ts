// One report, sent: the commit status, then the living comment on each PR of the run (or, for a drift
// run, its own status context and the workspace's living drift issue). Idempotent, so the queue can send
// the same state again after a failure. Comment ids are remembered; after a restart the comment is found
// again by its hidden marker.
import type { Logger } from 'pino';
import type { Run } from '../run/run.ts';
import { commentMarker, renderComment } from './comment.ts';
import { syncDriftIssue } from './drift-issue.ts';
import { driftStatusFor } from './drift-report.ts';
import { ForgeError } from './errors.ts';
import type { Forge, StatusState } from './forge.ts';
import { statusFor } from './status.ts';

export interface ForgeTarget {
  forge: Forge;
  /** The living PR comment. */
  comment: boolean;
  /** The living drift issue per workspace. */
  driftIssue: boolean;
}

export interface ForgeTargets {
  get(repo: string): ForgeTarget | undefined;
  has(repo: string): boolean;
}

/** What one send told the forge. */
export interface Sent {
  status: StatusState;
  prs: number[];
  /** A drift run's issue, when there is one. */
  issue?: number;
}

export function createSender(forges: ForgeTargets, log: Logger) {
  /** Comment ids found or made, per repo, PR and marker (bounded: the oldest are forgotten). */
  const commentIds = new Map<string, number>();

  async function prsOf(forge: Forge, run: Run): Promise<number[]> {
    const prs = new Set<number>(run.pr === null ? [] : [run.pr]);
    // Two PRs whose heads are one commit share one run: both hear of it. A branch run finds its PR(s).
    try {
      for (const n of await forge.pullsForCommit(run.sha)) prs.add(n);
      const branch = /^refs\/heads\/(.+)$/.exec(run.ref)?.[1];
      if (branch && prs.size === 0) for (const n of await forge.pullsForBranch(branch)) prs.add(n);
    } catch (err) {
      if (!(err instanceof ForgeError) || err.retryable) throw err;
      log.debug({ err: { message: err.message }, runId: run.id }, "could not look up the PRs of a commit; reporting to the ref's PR only");
    }
    return [...prs].sort((a, b) => a - b);
  }

  async function upsertComment(forge: Forge, run: Run, pr: number): Promise<void> {
    const marker = commentMarker(run.repo, run.workspace);
    const body = renderComment(run);
    const key = `${run.repo}\0${pr}\0${marker}`;
    let id = commentIds.get(key);
    if (id === undefined) id = (await forge.listComments(pr)).find((c) => c.body.startsWith(marker))?.id;
    if (id !== undefined) {
      try {
        await forge.updateComment(id, body);
        remember(key, id);
        return;
      } catch (err) {
        // Deleted by someone meanwhile: make a new one.
        if (!(err instanceof ForgeError) || err.kind !== 'not-found') throw err;
        commentIds.delete(key);
      }
    }
    remember(key, await forge.createComment(pr, body));
  }

  function remember(key: string, id: number): void {
    commentIds.set(key, id);
    if (commentIds.size > 10_000) commentIds.delete(commentIds.keys().next().value as string);
  }

  /** A drift run: its status on the checked head, then the workspace's drift issue. */
  async function sendDrift(target: ForgeTarget, run: Run): Promise<Sent> {
    const status = driftStatusFor(run);
    if (status) await target.forge.setStatus(run.sha, status);
    const state = status?.state ?? 'pending';
    if (!target.driftIssue) return { status: state, prs: [] };
    const outcome = await syncDriftIssue(target.forge, run);
    if (outcome.action !== 'none') log.info({ event: 'report.drift-issue', runId: run.id, issue: outcome.issue, action: outcome.action }, `drift issue ${outcome.action}`);
    return { status: state, prs: [], ...(outcome.issue !== null ? { issue: outcome.issue } : {}) };
  }

  return {
    /** Send the run's state; returns its status and the PRs commented on. Throws a ForgeError. */
    async send(run: Run, prsSeen: (prs: number[]) => void): Promise<Sent> {
      const target = forges.get(run.repo)!;
      if (run.kind === 'drift') return sendDrift(target, run);
      const status = statusFor(run);
      await target.forge.setStatus(run.sha, status);
      if (!target.comment) return { status: status.state, prs: [] };
      const prs = await prsOf(target.forge, run);
      prsSeen(prs);
      // Planning says nothing a comment should: the status alone shows it.
      if (run.state !== 'planning') for (const pr of prs) await upsertComment(target.forge, run, pr);
      return { status: status.state, prs };
    },
  };
}
