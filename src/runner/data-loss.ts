// What the runner does when Redis lost its data (issue 15, invariant 5). It looks at start-up, whenever
// the connection comes back, and every few seconds (redis-epoch.ts tells). Then it says so (an error log
// line `redis.data_lost`, a `redis.data_lost` audit record, `airlock doctor`), and stores again, from its
// own audit chains, every run they describe (run/restore-rules.ts): finished runs as they ended, and runs
// that were under way ended `failed` (`airlock:redis-data-lost`; `needs_attention` for an apply that was
// running), so nothing goes on without a fresh approval and no head is planned again. The approvers get
// one notice when requests they may still tap were voided, not one per run. `redis.rebuilt` records the
// counts. Runners starting within the grace wait before their first poll (runner.ts), so that running
// ones restore their runs first and a cold watcher finds them instead of planning those heads again.
import type { Logger } from 'pino';
import { readVerifiedRecords } from '../audit/verify-files.ts';
import { RUNNER_ACTOR } from '../run/describe.ts';
import { restoreRuns } from '../run/restore-rules.ts';
import type { RunState } from '../run/run.ts';
import type { ControlPlane } from './control-plane.ts';
import { compareEpochs, currentEpoch, LOSS_GRACE_MS, markLoss, recordedEpoch, recordEpoch, type EpochVerdict } from './redis-epoch.ts';

export interface DataLossDeps {
  cp: Pick<ControlPlane, 'config' | 'redis' | 'paths' | 'audit' | 'transitions' | 'channel'>;
  log: Logger;
  /** After the runs were restored: what else lived only in Redis is set up again (drift schedules). */
  afterRestore?(): Promise<void>;
  now?: () => Date;
  graceMs?: number;
}

export interface DataLossCheck {
  verdict: EpochVerdict;
  restored?: Partial<Record<RunState, number>>;
  /** Runs that were under way and were ended. */
  voided?: string[];
}

export function createDataLossGuard(deps: DataLossDeps) {
  const { config, redis, paths, audit } = deps.cp;
  const prefix = config.redis.prefix;
  const now = deps.now ?? (() => new Date());
  let running: Promise<DataLossCheck> | null = null;

  async function recover(was: string, epoch: string, noticed: string): Promise<DataLossCheck> {
    await markLoss(redis, prefix, deps.graceMs ?? LOSS_GRACE_MS);
    deps.log.error({ event: 'redis.data_lost', previousEpoch: was, epoch, noticed }, 'Redis lost its data (restarted without persistence, or flushed): every run, pending approval and queued job in it is gone. Restoring this runner\'s runs from its audit chain; nothing that was under way goes on without a fresh approval');
    await audit.append({ type: 'redis.data_lost', run: null, actor: RUNNER_ACTOR, detail: { previousEpoch: was, epoch, noticed } });
    const { records, reports } = await readVerifiedRecords(paths.auditDir);
    const restored: Partial<Record<RunState, number>> = {};
    const voided: string[] = [];
    let pending = 0;
    let applying = 0;
    for (const candidate of restoreRuns(records.map((r) => r.record), now())) {
      if (!(await deps.cp.transitions.restore(candidate, { epoch }))) continue;
      restored[candidate.run.state] = (restored[candidate.run.state] ?? 0) + 1;
      if (candidate.recordedState === candidate.run.state) continue;
      voided.push(candidate.run.id);
      if (candidate.recordedState === 'awaiting_approval' || candidate.recordedState === 'approved') pending++;
      if (candidate.recordedState === 'applying') applying++;
    }
    const brokenChains = reports.filter((r) => !r.result.ok).map((r) => r.chain);
    await audit.append({ type: 'redis.rebuilt', run: null, actor: RUNNER_ACTOR, detail: { epoch, restored, voided: voided.slice(0, 200), voidedCount: voided.length, brokenChains } });
    deps.log.warn({ event: 'redis.rebuilt', restored, voided: voided.length, brokenChains }, `restored ${Object.values(restored).reduce((a, b) => a + b, 0)} run(s) from the audit chain; ${voided.length} that were under way were ended (see \`airlock runs\`; \`airlock replan RUN\` plans a head again)`);
    if (pending + applying > 0) await tellApprovers(pending, applying);
    await deps.afterRestore?.().catch((err: unknown) => deps.log.warn({ err }, 'could not set up again what lived in Redis after the loss'));
    await recordEpoch(paths.dataDir, prefix, epoch, { prefix, at: now().toISOString(), was, now: epoch, restored, voided: voided.length });
    return { verdict: 'lost', restored, voided };
  }

  /** One notice for the whole loss: requests on the phone that no longer count, applies to check. */
  async function tellApprovers(pending: number, applying: number): Promise<void> {
    const parts = [
      `Redis lost its data (runner ${config.runner.id}).`,
      pending > 0 ? `${pending} request(s) waiting for a decision or approved and not yet applied were voided: taps on them no longer count, and nothing is applied without a new approval.` : '',
      applying > 0 ? `${applying} apply(s) were running and need a check.` : '',
      'On the runner host: `airlock runs`, then `airlock replan RUN` for what should go ahead.',
    ];
    await deps.cp.channel.notice?.('Airlock: Redis lost its data', parts.filter(Boolean).join(' ')).catch((err: unknown) => deps.log.warn({ err }, 'could not tell the approvers about the Redis data loss'));
  }

  async function checkOnce(noticed: string): Promise<DataLossCheck> {
    const current = await currentEpoch(redis, prefix, config.runner.id);
    const recorded = await recordedEpoch(paths.dataDir, prefix);
    const verdict = compareEpochs(recorded, current.id);
    if (verdict === 'first') {
      await recordEpoch(paths.dataDir, prefix, current.id);
      deps.log.info({ event: 'redis.epoch', epoch: current.id, created: current.created }, 'recorded the Redis epoch; a Redis that comes back without it has lost its data');
    }
    return verdict === 'lost' ? recover(recorded!, current.id, noticed) : { verdict };
  }

  return {
    /** Compare epochs and, after a loss, restore; concurrent calls share one check. */
    check(noticed: 'start' | 'reconnect' | 'interval'): Promise<DataLossCheck> {
      running ??= checkOnce(noticed).finally(() => (running = null));
      return running;
    },
  };
}

export type DataLossGuard = ReturnType<typeof createDataLossGuard>;

/** Check on every reconnect and every `intervalMs` until stopped; failures are logged and tried again. */
export function watchForDataLoss(guard: DataLossGuard, log: Logger, intervalMs = 5_000): { onBack(): void; stop(): void } {
  const run = (noticed: 'reconnect' | 'interval') => void guard.check(noticed).catch((err: unknown) => log.warn({ err, noticed }, 'could not check whether Redis kept its data; trying again'));
  const timer = setInterval(() => run('interval'), intervalMs);
  timer.unref();
  return { onBack: () => run('reconnect'), stop: () => clearInterval(timer) };
}
