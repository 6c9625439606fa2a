// Drift checks: each workspace with a `drift` schedule gets one delayed job per slot (queue/drift-queue.ts).
// When a slot fires, the configured ref's head becomes a drift run, which the ordinary plan job plans with
// the plan identity, in the same sandbox, under the same guard and policy as any run; unless a drift run
// of that head is still undecided (planning, asking a human, re-converging), when the slot is skipped so
// the request already out stays the one that counts. A run with changes
// asks the approvers as any run does (an ordinary gated apply re-converges); a run with none ends
// no_changes quietly, and the workspace's last-in-sync time moves (drift-status.ts).
import type { Logger } from 'pino';
import type { RunStore } from '../run/run-store.ts';
import type { RunMoved } from '../run/transitions.ts';
import { describeRun, RUNNER_ACTOR } from '../run/describe.ts';
import { isFinal, type Run } from '../run/run.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RunnerConfig } from '../config/schema.ts';
import type { DriftConfig } from '../config/drift-schema.ts';
import { AirlockError } from '../errors.ts';
import type { DriftPayload, DriftQueue } from '../queue/drift-queue.ts';
import { listRemoteHeads, type RemoteHead } from '../watch/ls-remote.ts';
import { nextFiring } from './drift-schedule.ts';
import type { DriftStatusStore } from './drift-status.ts';

export interface DriftDeps {
  config: Pick<RunnerConfig, 'repos'>;
  runs: RunStore;
  audit: AuditLog;
  log: Logger;
  queue: Pick<DriftQueue, 'schedule'>;
  status: DriftStatusStore;
  enqueuePlan(runId: string): Promise<void>;
  supersede(runId: string, by: string): Promise<unknown>;
  /** Injected for tests; defaults to `git ls-remote`. */
  listHeads?: (url: string, patterns: string[]) => Promise<RemoteHead[]>;
  /** The clock; tests pass a fake one. */
  now?: () => Date;
}

export interface DriftTarget {
  repo: { name: string; url: string };
  workspace: string;
  drift: DriftConfig;
}

/** Every workspace that has a drift schedule. */
export function driftTargets(config: Pick<RunnerConfig, 'repos'>): DriftTarget[] {
  return config.repos.flatMap((repo) => repo.workspaces.flatMap((ws) => (ws.drift ? [{ repo: { name: repo.name, url: repo.url }, workspace: ws.name, drift: ws.drift }] : [])));
}

/** The target a payload names, or a coded error when the config no longer has that schedule. */
export function driftTargetFor(config: Pick<RunnerConfig, 'repos'>, repo: string, workspace: string): DriftTarget {
  const target = driftTargets(config).find((t) => t.repo.name === repo && t.workspace === workspace);
  if (!target) {
    throw new AirlockError('airlock:drift-not-configured', `workspace ${JSON.stringify(workspace)} of repo ${JSON.stringify(repo)} has no drift schedule`, {
      hint: 'Add `drift: { schedule: "0 */6 * * *", ref: refs/heads/main }` to the workspace in the runner config; `airlock drift` lists the scheduled ones.',
    });
  }
  return target;
}

export function createDriftChecks(deps: DriftDeps) {
  const now = deps.now ?? (() => new Date());
  const listHeads = deps.listHeads ?? ((url, patterns) => listRemoteHeads(url, patterns));

  /** Queue the first slot after `after` (idempotent: every runner adds the same job). */
  async function scheduleNext(t: DriftTarget, after: Date): Promise<Date> {
    const { slot, fireAt } = nextFiring(t.repo.name, t.workspace, t.drift, after);
    await deps.queue.schedule({ repo: t.repo.name, workspace: t.workspace, slot: slot.toISOString() }, fireAt, now().getTime());
    return slot;
  }

  /** The newest drift run of the workspace and ref when it is of `head`, of another slot, and not final. */
  async function undecidedRunOf(t: DriftTarget, head: RemoteHead, slot: string): Promise<Run | null> {
    const latest = await deps.runs.latestFor({ repo: t.repo.name, pr: null, ref: head.ref, workspace: t.workspace, kind: 'drift' });
    const run = latest === null ? null : await deps.runs.find(latest);
    return run && run.sha === head.sha && run.driftSlot !== slot && !isFinal(run.state) ? run : null;
  }

  return {
    scheduleNext,

    /** At start: queue each schedule's next slot. */
    async scheduleAll(): Promise<void> {
      for (const t of driftTargets(deps.config)) await scheduleNext(t, now());
    },

    /** A slot came due: queue the following one, then plan the ref's head as a drift run. */
    async fire(payload: DriftPayload): Promise<string | null> {
      const t = driftTargetFor(deps.config, payload.repo, payload.workspace);
      const slot = new Date(payload.slot);
      // The next slot first, so a failure below never ends the chain; never one already past (after downtime).
      await scheduleNext(t, new Date(Math.max(slot.getTime(), now().getTime())));
      const log = deps.log.child({ repo: t.repo.name, workspace: t.workspace, slot: payload.slot, kind: 'drift' });
      const head = (await listHeads(t.repo.url, [t.drift.ref])).find((h) => h.ref === t.drift.ref);
      if (!head) {
        log.warn({ ref: t.drift.ref }, 'drift check skipped: the remote has no such ref');
        await deps.audit.append({ type: 'drift.skipped', run: null, actor: RUNNER_ACTOR, detail: { repo: t.repo.name, workspace: t.workspace, ref: t.drift.ref, slot: payload.slot, reason: 'the remote has no such ref' } });
        return null;
      }
      // A drift run of this head still undecided (asking a human, say): its request stays the one that counts.
      const pending = await undecidedRunOf(t, head, payload.slot);
      if (pending) {
        if (pending.state === 'planning') await deps.enqueuePlan(pending.id); // idempotent: heals a lost plan job
        const reason = `drift run ${pending.id} of this head is not decided yet (${pending.state})`;
        log.info({ pending: pending.id, state: pending.state }, `drift check skipped: ${reason}`);
        await deps.audit.append({ type: 'drift.skipped', run: null, actor: RUNNER_ACTOR, detail: { repo: t.repo.name, workspace: t.workspace, ref: t.drift.ref, slot: payload.slot, reason, pending: pending.id } });
        return null;
      }
      const result = await deps.runs.create({ repo: t.repo.name, ref: head.ref, pr: null, sha: head.sha, workspace: t.workspace, seenAt: now().getTime(), drift: { slot: payload.slot } });
      if (result.created) {
        await deps.audit.append({ type: 'run.sighted', ...describeRun(result.run), actor: RUNNER_ACTOR, detail: { latest: result.latest, kind: 'drift', slot: payload.slot } });
        log.info({ runId: result.run.id, sha: head.sha }, 'drift check');
      }
      // Drift runs supersede only older drift runs of the same workspace and ref.
      if (result.previous) await deps.supersede(result.previous, result.run.id);
      if (result.created && !result.latest) {
        await deps.supersede(result.run.id, 'a newer drift check of the same workspace');
        return result.run.id;
      }
      if (result.run.state === 'planning') await deps.enqueuePlan(result.run.id);
      return result.run.id;
    },

    /** Transitions subscriber: a drift run that ended in sync, or that waits on a human, updates the status. */
    async onMoved(event: RunMoved): Promise<void> {
      if (event.run.kind !== 'drift') return;
      const inSync = event.to === 'no_changes' || event.to === 'applied';
      const recorded = ['awaiting_approval', 'planned', 'failed', 'refused', 'skipped'];
      if (inSync || recorded.includes(event.to)) await deps.status.record(event.run, inSync, now());
    },
  };
}

export type DriftChecks = ReturnType<typeof createDriftChecks>;
