// The runner service: watcher, plan/apply/control workers and housekeeping, wired from one config.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { createApplySteps } from '../jobs/apply-job.ts';
import { reconcileApplies } from '../jobs/recovery.ts';
import { createApprovalLookup } from '../audit/approval-on-record.ts';
import { agentForApprover } from '../audit/attribution.ts';
import { createWitness } from '../audit/witness.ts';
import { thisHost } from '../run/run-store.ts';
import { isFinal } from '../run/run.ts';
import { isRunId } from '../run/run-schema.ts';
import type { LoadedConfig } from '../config/load.ts';
import { assertVaultConfigured, createCredentialProvider } from '../credentials/provider.ts';
import { createEngine, type Engine } from '../engine/engine.ts';
import { engineSpecFor } from '../engine/spec.ts';
import { sandboxSettingsFor } from '../engine/config.ts';
import { prepareEngineSandbox } from '../engine/engine-setup.ts';
import { fillProviderMirror } from '../engine/mirror-fill.ts';
import { hasCode } from '../errors.ts';
import { scrubber } from '../log/scrub.ts';
import { createPlanJob, PlanEndedError } from '../jobs/plan-job.ts';
import { createDriftStatus } from '../jobs/drift-status.ts';
import { backendFor, networkFor, sharedDirsFor, workspaceOf } from '../config/workspace.ts';
import { doNotRetry, startWorkers } from '../queue/queues.ts';
import { createWatcher } from '../watch/watcher.ts';
import { openControlPlane, type ControlPlane } from './control-plane.ts';
import { preflight } from './preflight.ts';
import { wireReporting } from './report-wiring.ts';
import { isConnectionError, watchRedisHealth } from './redis-health.ts';
import { removeJobDir as removeJobDirAt } from '../run/paths.ts';
import { keepApplyOutput } from './kept-output.ts';
import { hashToken } from '../approve/approve.ts';
import { replyWindowMs } from '../approve/open-channel.ts';
import { failInterruptedPlan } from '../jobs/recovery.ts';
import type { RemoteHead } from '../watch/ls-remote.ts';
import { startDrift } from './drift-wiring.ts';
import { createDataLossGuard, watchForDataLoss } from './data-loss.ts';
import { lossGraceLeft } from './redis-epoch.ts';
import { watchAuditDisk } from './audit-guard.ts';
import { untilRecorded } from '../jobs/until-recorded.ts';

export interface RunnerOptions {
  log: Logger;
  /** Start the watcher's poll loops (tests drive polls themselves with `watcher.pollAll()`). */
  watch?: boolean;
  engine?: Engine;
  /** Injected for tests: how drift checks list the remote's heads (defaults to `git ls-remote`). */
  listHeads?: (url: string, patterns: string[]) => Promise<RemoteHead[]>;
  /** The watcher asks `git ls-remote` even for `file://` remotes (the watcher benchmark's before side). */
  listViaGit?: boolean;
  /** Forge report retry pace (tests shorten it); defaults in src/report/reporter.ts. */
  report?: { backoffMs?: number; maxBackoffMs?: number; maxBacklog?: number; maxAttempts?: number };
}

export async function startRunner(loaded: LoadedConfig, options: RunnerOptions) {
  const { config } = loaded;
  const log = options.log.child({ runner: config.runner.id });
  // The data dir, Redis and the engine first: a runner that cannot work exits now, with what to do.
  const { engine, policyUnknown } = await preflight(loaded, async () => {
    if (options.engine) return { engine: options.engine, binary: config.engine.binary ?? config.engine.kind };
    const spec = await engineSpecFor(config);
    return { engine: createEngine(spec), binary: spec.binary };
  });
  if (policyUnknown) log.warn({ event: 'redis.policy_unknown' }, 'cannot read Redis maxmemory-policy (CONFIG GET and INFO are not allowed for this user); make sure it is noeviction');
  assertVaultConfigured(config);
  await prepareEngineSandbox(config, log);
  // The mirror fill runs in the background; plans wait for it before their first `init`.
  const providersReady = config.engine.sandbox === 'none' ? Promise.resolve() : fillProviderMirror(config, engine, log).then(() => undefined);
  // Metrics only when `metrics.listen` is set: then every hook below counts, and nothing else changes
  // (prom-client loads only then).
  const metrics = config.metrics.listen === undefined ? null : (await import('./metrics-wiring.ts')).createRunnerMetrics(config.metrics, { log, scrubberSize: () => scrubber.size });
  const cp: ControlPlane = await openControlPlane(loaded, { log, writer: 'runner', ...(metrics ? { onAuditAppend: metrics.onAuditAppend } : {}) });
  await metrics?.serve(cp).catch(async (err: unknown) => {
    await cp.close();
    throw err;
  });
  const { paths, runs, audit } = cp;
  // Redis that lost its data is noticed before anything reads it (data-loss.ts), and again on every return.
  let driftChecks: { scheduleAll(): Promise<unknown> } | null = null;
  const dataLoss = createDataLossGuard({ cp, log, afterRestore: async () => void (await driftChecks?.scheduleAll()) });
  const lossWatch = watchForDataLoss(dataLoss, log);
  const redisHealth = watchRedisHealth(cp.redis, config.redis.url, log, lossWatch.onBack);
  const credentials = createCredentialProvider(config, { log, scrubber, audit, spentDir: path.join(paths.dataDir, 'vault-unwrapped') });
  // Outcomes go to the forge from the transitions, best effort; a bad token file stops the start here.
  const reporting = await wireReporting(loaded, { transitions: cp.transitions, runs, redis: cp.redis, log, reporterOptions: options.report }).catch(async (err: unknown) => {
    redisHealth.stop();
    await cp.close();
    throw err;
  });

  const driftStatus = createDriftStatus(cp.redis, config.redis.prefix, log);
  const planSteps = createPlanJob({ config, paths, runs, transitions: cp.transitions, approvals: cp.approvals, audit, engine, credentials, log, configHash: loaded.hash, providersReady, enqueueApply: (id) => cp.enqueueApply(id), locks: cp.locks, driftStatus, onStepStart: (id, step) => cp.traces.step(id, step), traceJob: (kind, run, work) => cp.traces.job(kind, run, work), ...(metrics ? { onStep: metrics.onStep } : {}) });
  const approvalLookup = createApprovalLookup(paths.auditDir, { agentFor: (id) => agentForApprover(config.audit.agents, id) });
  const witness = createWitness({ audit, alsoVerify: [path.join(paths.auditDir, `${config.runner.id}-cli.jsonl`)], config: config.audit.witness, log, scrubber, ...(metrics ? { onWitness: metrics.onWitness } : {}) });
  const applySteps = createApplySteps({
    runnerId: config.runner.id,
    paths,
    runs,
    transitions: cp.transitions,
    locks: cp.locks,
    engine,
    credentials,
    scrubber,
    log,
    workspaceLockWaitMs: config.queue.workspaceLockWait,
    workDir: (run) => path.join(paths.job(run.id).tree, workspaceOf(config, run).dir),
    sandbox: sandboxSettingsFor(config.engine, config.runner.dataDir),
    sharedDirs: (run) => sharedDirsFor(config, paths, run),
    network: (run) => networkFor(config, run),
    localStateFile: (run) => {
      const backend = backendFor(config, paths, run);
      return backend.type === 'local' ? String(backend.config['path']) : null;
    },
    onFinal: (run) =>
      cp.traces.around(run.id, 'record', async () => {
        // Told first, while the plan view (what the approvers saw) is still in the job directory.
        await cp.approvals.announceOutcome(run);
        await removeJobDir(run.id);
        witness.afterApply(run.id);
      }),
    approvalOnRecord: (run) => approvalLookup.find(run),
    traceJob: (kind, run, work) => cp.traces.job(kind, run, work),
    auditWritable: () => audit.writableProblem(),
    ...(metrics ? { onRefused: metrics.onRefused } : {}),
  });

  async function removeJobDir(runId: string): Promise<void> {
    await keepApplyOutput(paths, runId).catch((err: unknown) => log.warn({ err, runId }, 'could not keep the apply output for `airlock show`'));
    await removeJobDirAt(paths, runId);
  }

  /** Delete job dirs of final runs: they hold plan files, which embed variable values. */
  async function sweepJobDirs(): Promise<number> {
    let removed = 0;
    const ids = await readdir(paths.jobsDir).catch(() => [] as string[]);
    for (const id of ids) {
      // Only the runner makes entries here, each named by a run id; anything else is not ours to delete.
      if (!isRunId(id)) {
        log.warn({ entry: id }, 'left alone an entry of the jobs directory that is not a run id');
        continue;
      }
      const run = await runs.find(id);
      // needs_attention keeps its directory: the human needs the plan and the engine log.
      if (!run || (isFinal(run.state) && run.state !== 'needs_attention')) {
        await removeJobDir(id);
        removed++;
      }
    }
    return removed;
  }

  /** Runs left `applying` by a dead process on this host go to needs_attention at once. */
  async function reconcile(): Promise<void> {
    for (const run of await reconcileApplies({ runs, runnerId: config.runner.id, abandon: applySteps.abandon })) await cp.approvals.announceOutcome(run);
  }

  const watcher = createWatcher({
    repos: config.repos,
    runs,
    audit,
    log,
    enqueuePlan: (id) => {
      reporting?.sighted(id);
      return cp.queues.enqueuePlan(id);
    },
    supersede: (id, by) => cp.approvals.supersede(id, by),
    ...(options.listViaGit ? { listViaGit: true } : {}),
  });

  // A chain that cannot take records pauses the runner (audit-guard.ts); watcher and workers exist below.
  const gate = { writableProblem: () => audit.writableProblem(), log };
  const paused: { pause(): unknown; resume(): unknown }[] = [];
  const auditGuard = watchAuditDisk({ audit, log, pause: async () => void (await Promise.all(paused.map((p) => p.pause()))), resume: async () => void (paused.forEach((p) => p.resume()), sendHeld()) });
  await witness.start();
  await dataLoss.check('start');
  await reconcile();
  await sweepJobDirs();
  const workers = await startWorkers({
    runnerId: config.runner.id,
    redis: cp.redisTarget,
    prefix: config.redis.prefix,
    planConcurrency: config.plans.concurrency,
    lockDurationMs: config.queue.lockDuration,
    stalledIntervalMs: config.queue.stalledInterval,
    plan: async (runId, attempt) => {
      const started = performance.now();
      try {
        // A plan whose record the chain refused starts again once it can take records (until-recorded.ts).
        await untilRecorded(gate, `the plan of ${runId}`, () => planSteps.plan(runId, attempt));
      } catch (err) {
        // A run that is not there (or whose record was quarantined) will not appear by trying again.
        throw err instanceof PlanEndedError || hasCode(err, 'airlock:run-not-found') ? doNotRetry(err as Error) : err;
      } finally {
        // A plan that ended the run (no changes, failed, refused, superseded) leaves nothing to apply:
        // its plan file embeds variable values, so it goes now rather than at the next sweep.
        const ended = await runs.find(runId).catch(() => null);
        metrics?.planFinished(ended?.state, (performance.now() - started) / 1000);
        if (ended && isFinal(ended.state) && ended.state !== 'needs_attention') await removeJobDir(runId).catch(() => undefined);
      }
    },
    apply: (runId) => applySteps.apply(runId),
    planStalledOut: async (runId) => void (await failInterruptedPlan({ transitions: cp.transitions }, runId)),
    expire: async (runId) => {
      const run = await untilRecorded(gate, `the expiry of ${runId}`, () => cp.approvals.expire(runId));
      if (run && isFinal(run.state)) await removeJobDir(runId);
    },
    applyStalled: async (runId) => {
      const run = await applySteps.abandon(runId, 'the worker holding this apply stopped answering; the apply may be partial and is never re-run automatically');
      if (run) await cp.approvals.announceOutcome(run);
    },
    // A lost connection is logged once by watchRedisHealth, not by every worker at every attempt.
    onError: (err, where) => (isConnectionError(err) ? log.debug({ err, where }, 'worker connection error') : log.error({ err, where }, 'worker error')),
    log,
  });
  paused.push(watcher, workers);
  await auditGuard.check();
  // Right after a loss, other runners may still be restoring their runs: a cold watcher waits for them.
  const grace = options.watch === false ? 0 : await lossGraceLeft(cp.redis, config.redis.prefix);
  if (grace > 0) log.warn({ event: 'redis.loss_grace', waitMs: grace }, `Redis lost its data moments ago: first poll in ${Math.ceil(grace / 1000)}s, once running runners have restored their runs`);
  const watchTimer = options.watch === false ? null : grace > 0 ? setTimeout(() => watcher.start(), grace) : (watcher.start(), null);
  // Drift schedules: one delayed job per slot, shared by every runner on this Redis.
  const drift = await startDrift(cp, { log, status: driftStatus, sighted: (id) => reporting?.sighted(id), ...(options.listHeads ? { listHeads: options.listHeads } : {}) });
  driftChecks = drift.checks;
  // Replies come back over streams this process opens; nothing listens on a port.
  const replies = cp.channel.listen?.({ approvals: cp.approvals, findRun: (id) => cp.approvals.shownRun(id), ownsReply: (nonce) => ownsReply(cp, nonce), log, redis: cp.redis, prefix: config.redis.prefix, replyWindowMs: replyWindowMs(loaded) }) ?? null;
  // Requests held back by approval.maxPending go out as slots free (decisions taken in the CLI included).
  const sendHeld = () => void (auditGuard.paused() ? null : cp.approvals.sendHeld().catch((err) => log.warn({ err }, 'sending held approval requests failed')));
  sendHeld();
  const heldSender = setInterval(sendHeld, 10_000);
  heldSender.unref();
  // Response-wrapped secret_ids are unwrapped now, while their wrapping TTL still runs.
  void credentials.prepare();
  const sweeper = setInterval(() => void sweepJobDirs().catch((err) => log.warn({ err }, 'job dir sweep failed')), 60_000);
  sweeper.unref();
  log.info({ repos: config.repos.length, dataDir: paths.dataDir, redis: config.redis.prefix, host: thisHost }, 'runner started');

  return {
    cp,
    metrics,
    engine,
    watcher,
    witness,
    replies,
    drift: drift.checks,
    reporting,
    sweepJobDirs,
    reconcile,
    dataLoss,
    async stop(): Promise<void> {
      clearInterval(sweeper);
      clearInterval(heldSender);
      if (watchTimer) clearTimeout(watchTimer);
      lossWatch.stop();
      auditGuard.stop();
      await replies?.stop();
      await watcher.stop();
      await drift.stop();
      await workers.close();
      await cp.transitions.idle();
      await reporting?.stop();
      await witness.stop();
      redisHealth.stop();
      await metrics?.stop();
      await cp.close();
      log.info('runner stopped');
    },
  };
}

export type Runner = Awaited<ReturnType<typeof startRunner>>;

/** Whether a reply's nonce was sealed by this runner; unknown (or forged) nonces are handled, and refused, by all. */
async function ownsReply(cp: ControlPlane, nonce: string): Promise<boolean> {
  const peeked = await cp.approvalStore.peek(hashToken(nonce));
  return peeked?.foreign === undefined;
}
