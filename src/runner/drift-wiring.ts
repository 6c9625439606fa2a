// The runner's drift checks: the slot queue, its worker, the status subscriber, and each schedule's first
// slot. Forge reporting (issue 13) hears drift runs through the same transitions events (`run.kind`).
import type { Logger } from 'pino';
import { createDriftChecks, driftTargets, type DriftChecks } from '../jobs/drift-job.ts';
import type { DriftStatusStore } from '../jobs/drift-status.ts';
import { createDriftQueue, startDriftWorker } from '../queue/drift-queue.ts';
import type { RemoteHead } from '../watch/ls-remote.ts';
import type { ControlPlane } from './control-plane.ts';
import { isConnectionError } from './redis-health.ts';

export interface DriftWiringOptions {
  log: Logger;
  /** The workspaces' drift status, shared with the plan job (which records the drift told). */
  status: DriftStatusStore;
  /** A drift run was created and queued (its pending forge status). */
  sighted?: (runId: string) => void;
  listHeads?: (url: string, patterns: string[]) => Promise<RemoteHead[]>;
}

export async function startDrift(cp: ControlPlane, options: DriftWiringOptions): Promise<{ checks: DriftChecks; stop(): Promise<void> }> {
  const { config } = cp;
  const log = options.log;
  const onError = (err: Error, where = 'drift-queue') => (isConnectionError(err) ? log.debug({ err, where }, 'drift queue connection error') : log.error({ err, where }, 'drift queue error'));
  const queue = createDriftQueue({ redis: cp.redisTarget, prefix: config.redis.prefix, onError });
  const checks = createDriftChecks({
    config,
    runs: cp.runs,
    audit: cp.audit,
    log,
    queue,
    status: options.status,
    enqueuePlan: (id) => {
      options.sighted?.(id);
      return cp.queues.enqueuePlan(id);
    },
    supersede: (id, by) => cp.approvals.supersede(id, by),
    ...(options.listHeads ? { listHeads: options.listHeads } : {}),
  });
  const unsubscribe = cp.transitions.subscribe((event) => checks.onMoved(event));
  const targets = driftTargets(config);
  const worker = targets.length > 0 ? await startDriftWorker({ redis: cp.redisTarget, prefix: config.redis.prefix, lockDurationMs: config.queue.lockDuration, fire: async (p) => void (await checks.fire(p)), onError, log }) : null;
  await checks.scheduleAll();
  if (targets.length > 0) log.info({ schedules: targets.map((t) => `${t.repo.name}/${t.workspace} ${t.drift.schedule}`) }, 'drift checks scheduled');
  return {
    checks,
    async stop(): Promise<void> {
      await worker?.close();
      unsubscribe();
      await queue.close();
    },
  };
}
