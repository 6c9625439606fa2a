// The pieces every process that touches runs needs: the runner service and the CLI share this wiring,
// so a decision taken from the CLI goes through exactly the code a channel's decision goes through.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { RunStore } from '../run/run-store.ts';
import { createRunTransitions } from '../run/transitions.ts';
import { WorkspaceLocks } from '../apply/workspace-lock.ts';
import { ApprovalStore } from '../approve/approval-store.ts';
import { createApprovalService, type ApprovalChannel } from '../approve/approval-service.ts';
import { openApprovalChannel } from '../approve/open-channel.ts';
import { loadSealer } from '../approve/approval-seal.ts';
import { readPlanView } from '../approve/plan-view.ts';
import { readTokenFile, resolveTokenFile } from '../approve/token-files.ts';
import { openPasskeyGate } from '../approve/passkey/gate.ts';
import { agentForApprover } from '../audit/attribution.ts';
import { AuditLog } from '../audit/audit-log.ts';
import type { LoadedConfig } from '../config/load.ts';
import { scrubber } from '../log/scrub.ts';
import { createQueues } from '../queue/queues.ts';
import { connectRedis, redisTargetFor } from '../queue/redis-connection.ts';
import { runnerPaths, type RunnerPaths } from '../run/paths.ts';
import { openTraces } from '../trace/open.ts';
import { newTraceparent, untraced } from '../trace/trace.ts';
import { isConnectionError } from './redis-health.ts';

export interface ControlPlaneOptions {
  log: Logger;
  /** The runner writes `<id>.jsonl`; the CLI writes `<id>-cli.jsonl` and waits briefly for its lock. */
  writer: 'runner' | 'cli';
  channel?: ApprovalChannel;
  /** Hears every audit append of this process once it is on disk, or failed (metrics). */
  onAuditAppend?(input: { type: string; actor?: { kind: string }; detail?: Record<string, unknown> }, seconds: number, ok: boolean): void;
}

export async function openControlPlane(loaded: LoadedConfig, options: ControlPlaneOptions) {
  const { config } = loaded;
  const paths = runnerPaths(config.runner.dataDir);
  // First, so a bad token file stops the runner before anything is opened.
  const channel = options.channel ?? (await openApprovalChannel(loaded, options));
  await mkdir(paths.dataDir, { recursive: true, mode: 0o700 });
  const redisTarget = await redisTargetFor(loaded, scrubber);
  const redis = connectRedis(redisTarget);
  // The runner logs the connection's state (redis-health.ts); an error without a listener would be
  // printed by ioredis with its stack at every reconnect attempt.
  redis.on('error', () => undefined);
  const prefix = config.redis.prefix;
  const runs = new RunStore(redis, prefix, scrubber, options.log, config.traces.otlp ? newTraceparent : undefined);
  const traces = await openRunTraces(loaded, runs, options).catch((err: unknown) => {
    redis.disconnect();
    throw err;
  });
  const approvalStore = new ApprovalStore(redis, prefix, await loadSealer(paths.dataDir, config.runner.id, scrubber), options.log);
  const locks = new WorkspaceLocks(redis, prefix);
  const queues = createQueues({
    redis: redisTarget,
    prefix,
    runnerId: config.runner.id,
    planAttempts: config.plans.attempts,
    planBackoffMs: config.plans.backoff,
    onError: (err) => (isConnectionError(err) ? options.log.debug({ err }, 'queue connection error') : options.log.warn({ err }, 'queue error')),
  });
  const auditFile = path.join(paths.auditDir, options.writer === 'runner' ? `${config.runner.id}.jsonl` : `${config.runner.id}-cli.jsonl`);
  let audit: AuditLog;
  try {
    audit = await AuditLog.open(auditFile, { scrubber, lockWaitMs: options.writer === 'cli' ? 10_000 : 0, runnerId: config.runner.id });
  } catch (err) {
    await queues.close();
    redis.disconnect();
    throw err;
  }
  if (options.onAuditAppend) observeAppends(audit, options.onAuditAppend);
  /** Apply on the runner that planned: it alone holds the approved plan file. */
  const enqueueApply = async (runId: string): Promise<void> => {
    const run = await runs.get(runId);
    await queues.enqueueApply(runId, run.plan?.runnerId ?? config.runner.id);
  };
  // Every state change of a run, in this process, goes through here; subscribers hear of each one.
  const transitions = createRunTransitions({ runs, audit, log: options.log });
  if (traces) transitions.subscribe((e) => traces.onMove(e));
  const approvals = createApprovalService({
    runnerId: config.runner.id,
    runs,
    transitions,
    approvals: approvalStore,
    audit,
    channel,
    configuredChannel: config.approval.channel,
    ttlMs: config.approval.ttl,
    confirmTtlMs: config.approval.confirmTtl,
    maxPending: config.approval.maxPending,
    sendsHeld: options.writer === 'runner',
    enqueueApply: (id) => enqueueApply(id),
    scheduleExpiry: (id, at) => queues.scheduleExpiry(id, at),
    planView: (id) => readPlanView(paths.job(id).planView, id),
    log: options.log,
    agentFor: (identity) => agentForApprover(config.audit.agents, identity),
    passkey: openPasskeyGate(config.approval, paths.dataDir),
  });
  return {
    loaded,
    config,
    paths,
    redis,
    redisTarget,
    runs,
    transitions,
    approvalStore,
    locks,
    queues,
    audit,
    approvals,
    enqueueApply,
    channel,
    /** The runs' traces (a no-op when `traces.otlp` is not set). */
    traces: traces ?? untraced,
    async close(): Promise<void> {
      await traces?.shutdown();
      await audit.close();
      await queues.close();
      redis.disconnect();
    },
  };
}

/** Traces only when `traces.otlp` is set; otherwise no OpenTelemetry module is even loaded. */
function openRunTraces(loaded: LoadedConfig, runs: RunStore, options: ControlPlaneOptions) {
  const { config } = loaded;
  return openTraces(config.traces, {
    runs,
    log: options.log,
    readSecret: (file, what) => readTokenFile(resolveTokenFile(file, loaded.file), scrubber, what),
    scrub: (text) => scrubber.scrubString(text),
    instanceId: options.writer === 'runner' ? config.runner.id : `${config.runner.id}-cli`,
    shutdownWaitMs: options.writer === 'cli' ? 3_000 : 10_000,
  });
}

/** Time each append of `audit` (its callers hold this very object) and tell `observer`; it never changes the outcome. */
function observeAppends(audit: AuditLog, observer: NonNullable<ControlPlaneOptions['onAuditAppend']>): void {
  const append = audit.append.bind(audit);
  const tell = (input: Parameters<AuditLog['append']>[0], started: number, ok: boolean) => {
    try {
      observer(input, (performance.now() - started) / 1000, ok);
    } catch {
      // an observer's failure is its own
    }
  };
  audit.append = (input) => {
    const started = performance.now();
    return append(input).then(
      (record) => (tell(input, started, true), record),
      (err: unknown) => (tell(input, started, false), Promise.reject(err)),
    );
  };
}

export type ControlPlane = Awaited<ReturnType<typeof openControlPlane>>;
