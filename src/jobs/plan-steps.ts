// The plan job's steps, in the order src/jobs/process.ts lists them. Each may run attacker-controlled
// code only inside the engine child; the step loop checks for a newer head between them.
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { RunStore } from '../run/run-store.ts';
import type { RunTransitions } from '../run/transitions.ts';
import type { Run } from '../run/run.ts';
import type { PlanSummary } from '../run/plan-record.ts';
import { describeRun, RUNNER_ACTOR } from '../run/describe.ts';
import { freshJobDir, type RunnerPaths } from '../run/paths.ts';

type JobPaths = ReturnType<RunnerPaths['job']>;
import type { AuditLog } from '../audit/audit-log.ts';
import type { ApprovalService } from '../approve/approval-service.ts';
import { planViewOf, writePlanView } from '../approve/plan-view.ts';
import { exportCommit, fetchCommit, ensureMirror, type CheckoutLimits } from '../checkout/checkout.ts';
import type { RunnerConfig } from '../config/schema.ts';
import { backendFor, networkFor, repoOf, sharedDirsFor, workspaceOf } from '../config/workspace.ts';
import type { CredentialProvider, Credentials } from '../credentials/credentials.ts';
import { writeBackendOverride } from '../engine/backend-override.ts';
import { sandboxAuditDetail } from '../engine/config.ts';
import type { Engine, EngineCall, EngineSession } from '../engine/engine.ts';
import { AirlockError } from '../errors.ts';
import { describeViolation, guardFetchedModules, guardTree, type GuardResult } from '../guard/guard.ts';
import { guardOptionsFor } from '../guard/options.ts';
import { makeDurable, sha256File } from '../plan/plan-file.ts';
import { summarizePlanFile } from '../plan/read-plan-json.ts';
import { withValueDiffs, type ValueDiffs } from '../plan/value-diff.ts';
import { evaluatePolicy, type PlanValues, type PolicyDecision } from '../policy/policy.ts';
import { createPolicyCollector } from '../policy/policy-collector.ts';
import { settleByPolicy } from './policy-steps.ts';
import { driftAdjusted } from './drift-policy.ts';
import { createDriftSteps, type DriftStepsDeps } from './drift-steps.ts';
import type { HeldLock } from '../apply/workspace-lock.ts';
import { driftedObjectsOf, driftFingerprint, type DriftedObject } from '../plan/drift-fingerprint.ts';
import { recordAttribution, recordFingerprint } from './record-run.ts';
import type { Step } from './step-loop.ts';

export interface PlanStepsDeps {
  config: RunnerConfig;
  paths: RunnerPaths;
  runs: RunStore;
  transitions: Pick<RunTransitions, 'move'>;
  approvals: Pick<ApprovalService, 'request' | 'supersede'>;
  audit: AuditLog;
  engine: Engine;
  /** The plan identity's read-only secrets for the engine child; never the apply identity's. */
  credentials: CredentialProvider;
  log: Logger;
  /** sha256 of the runner config file (`LoadedConfig.hash`), for the run's fingerprint. */
  configHash?: string;
  /** Resolves once the runner's provider mirror fill is done: plans install providers from it. */
  providersReady?: Promise<void>;
  /** Queue the apply of a run the policy approved (tier `auto`). */
  enqueueApply(runId: string): Promise<void>;
  /** The workspace locks: a drift check holds its workspace's around its engine plan. */
  locks: DriftStepsDeps['locks'];
  /** Each drift-checked workspace's status: the drift last told (quiet notices). */
  driftStatus: DriftStepsDeps['driftStatus'];
}

/** What the steps of one plan job pass on to each other. */
export interface PlanContext {
  run: Run;
  log: Logger;
  job: JobPaths;
  attempt: { attempt: number; maxAttempts: number };
  /** Held from init until the plan's last engine process exits; revoked by the job in any case. */
  creds: Credentials | null;
  call?: EngineCall;
  /** init, plan and show in one sandbox; closed by the step that ends the engine's work, and by the job in any case. */
  session?: EngineSession;
  treeId?: string;
  guarded?: GuardResult;
  guardOptions?: ReturnType<typeof guardOptionsFor>;
  /** From show on: the plan file's sha256 and the engine's version. */
  planSha256?: string;
  engineVersion?: string;
  /** From summarize on: the summary, the changed values for the approvers' view, and the policy's picks. */
  summarized?: { summary: PlanSummary; values: ValueDiffs; policyValues: PlanValues };
  decision?: PolicyDecision;
  /** Drift runs: the workspace lock, held until the engine plan ends (released by the job in any case). */
  lock?: HeldLock | null;
  /** Drift runs: the fingerprint of what drifted (no values), for quiet notices. */
  driftFingerprint?: string;
}

/** The first reason of every plan while the kill switch is off, so every summary says so. */
export const APPLIES_OFF_REASON = '[applies-off] applies are switched off in the runner config (applies.enabled: false): this plan is reported only, nothing will be applied';

export function createPlanSteps(deps: PlanStepsDeps) {
  const { config, paths, runs, audit } = deps;
  const drift = createDriftSteps(deps);
  const sandboxed = () => sandboxAuditDetail(config.engine.sandbox !== 'none');

  // The binary does not change under a running runner: one `version` process per runner, not per plan.
  let versionPromise: Promise<string> | null = null;
  function engineVersionOnce(homeDir: string): Promise<string> {
    versionPromise ??= deps.engine.version({ homeDir }).then((v) => v.version);
    versionPromise.catch(() => {
      versionPromise = null;
    });
    return versionPromise;
  }

  function engineCall(ctx: PlanContext): EngineCall {
    const { run, job, log } = ctx;
    return {
      cwd: path.join(job.tree, workspaceOf(config, run).dir),
      homeDir: job.home,
      phase: 'plan',
      // The whole tree: a workspace may use modules from elsewhere in the repository.
      writable: [job.tree, job.home],
      shared: sharedDirsFor(config, paths, run),
      network: networkFor(config, run),
      logFile: job.planLog,
      onLine: (line) => log.debug({ engine: line }, 'engine output'),
    };
  }

  const checkout: Step<PlanContext> = {
    name: 'checkout',
    async run(ctx) {
      await audit.append({ type: 'plan.started', ...describeRun(ctx.run), actor: RUNNER_ACTOR, detail: { attempt: ctx.attempt.attempt, ...sandboxed() } });
      ctx.log.info({ attempt: ctx.attempt.attempt }, 'planning');
      await freshJobDir(paths, ctx.run.id);
      await mkdir(ctx.job.home, { mode: 0o700 });
      const repo = repoOf(config, ctx.run);
      const limits: CheckoutLimits = { ...config.checkout, timeoutMs: config.checkout.timeout, allowSubmodules: config.guard.allowSubmodules };
      await ensureMirror(paths.mirror(repo.name), repo.url);
      // exportCommit checks that the sha names a commit, in the same git session that reads its tree and author.
      await fetchCommit(paths.mirror(repo.name), repo.url, ctx.run.sha, { timeoutMs: config.checkout.timeout, checkType: false });
      const exported = await exportCommit(paths.mirror(repo.name), ctx.run.sha, ctx.job.tree, limits);
      ctx.treeId = exported.treeId;
      ctx.run = await recordAttribution({ runs, audit, log: ctx.log }, ctx.run, paths.mirror(repo.name), config.audit.agents, exported.identity);
    },
  };

  const guard: Step<PlanContext> = {
    name: 'guard',
    async run(ctx) {
      const call = (ctx.call = engineCall(ctx));
      if (!(await stat(call.cwd).then((s) => s.isDirectory(), () => false))) {
        throw new AirlockError('airlock:workspace-missing', `workspace ${JSON.stringify(ctx.run.workspace)} plans directory ${JSON.stringify(workspaceOf(config, ctx.run).dir)}, which commit ${ctx.run.sha.slice(0, 12)} does not have`, {
          hint: 'Add the directory in the pull request, or fix `dir` of the workspace in the runner config.',
        });
      }
      ctx.guardOptions = guardOptionsFor(config, ctx.run);
      ctx.guarded = await guardTree(ctx.job.tree, ctx.guardOptions);
      await writeBackendOverride(call.cwd, backendFor(config, paths, ctx.run));
    },
  };

  const init: Step<PlanContext> = {
    name: 'init',
    async run(ctx) {
      // The plan identity's secrets, fetched now and revoked by the job in any case.
      await deps.providersReady;
      ctx.creds = await deps.credentials.forPlan(ctx.run);
      ctx.call!.secrets = ctx.creds.env;
      ctx.session = deps.engine.session({ planFile: ctx.job.planFile });
      await ctx.session.init(ctx.call!);
      // The code init fetched, checked before plan runs it.
      ctx.guarded!.warnings.push(...(await guardFetchedModules(ctx.job.tree, ctx.guardOptions!)).warnings);
    },
  };

  const plan: Step<PlanContext> = {
    name: 'plan',
    async run(ctx) {
      const outcome = await ctx.session!.plan(ctx.call!, ctx.job.planFile);
      await ctx.lock?.release(); // a drift check's state read is over: applies may go on
      ctx.lock = null;
      if (outcome.changes) return;
      await ctx.session!.close();
      await ctx.creds!.release(); // the engine is done with them: revoke before recording
      const engineVersion = await engineVersionOnce(ctx.job.home);
      await deps.transitions.move(ctx.run, {
        from: ['planning'],
        to: 'no_changes',
        record: { type: 'plan.finished', detail: { outcome: 'no_changes', engineVersion, ...sandboxed() } },
        log: { level: 'info', msg: 'no changes', logger: ctx.log },
      });
      return 'done';
    },
  };

  const show: Step<PlanContext> = {
    name: 'show',
    async run(ctx) {
      const { job } = ctx;
      await makeDurable(job.planFile);
      ctx.planSha256 = await sha256File(job.planFile);
      await ctx.session!.showJson(ctx.call!, job.planFile, job.planJson);
      await ctx.session!.close(); // nothing of the sandbox outlives the last engine call
      await ctx.creds!.release(); // the last engine call of the plan: revoke before anyone is asked
      ctx.engineVersion = await engineVersionOnce(job.home);
    },
  };

  const summarize: Step<PlanContext> = {
    name: 'summarize',
    async run(ctx) {
      const { job } = ctx;
      const collector = createPolicyCollector(config.policy);
      let drifted: DriftedObject[] | null = null; // attribute paths of drifted objects, for drift runs only
      const onDocument = ctx.run.kind === 'drift' ? (doc: unknown) => void (drifted = driftedObjectsOf(doc)) : undefined;
      const { result: summary, values } = await withValueDiffs(job.planJson, () => summarizePlanFile(job.planJson, { picker: collector, onEntry: (e) => collector.add(e) }), onDocument).finally(() => rm(job.planJson, { force: true }));
      if (ctx.run.kind === 'drift') ctx.driftFingerprint = driftFingerprint(summary, drifted);
      ctx.summarized = { summary, values, policyValues: collector.values() };
    },
  };

  const tier: Step<PlanContext> = {
    name: 'tier',
    async run(ctx) {
      const { job } = ctx;
      const { summary, values, policyValues } = ctx.summarized!;
      const sha256 = ctx.planSha256!;
      const engineVersion = ctx.engineVersion!;
      const decision = (ctx.decision = driftAdjusted(config, ctx.run, evaluatePolicy(summary, policyValues, config.policy)));
      const { tier } = decision;
      const reasons = [
        ...(config.applies.enabled || tier === 'deny' ? [] : [APPLIES_OFF_REASON]),
        ...decision.reasons,
        ...ctx.guarded!.warnings.map((w) => `guard warning (lenient mode) ${describeViolation(w)}`),
      ];
      // What the approver will read, from what this job computed, written after the last engine process exited.
      await writePlanView(job.planView, planViewOf(ctx.run, { sha256, tier, reasons, summary, values, showValues: config.approval.showValues }));
      const withPlan = await runs.update(ctx.run.id, (r) =>
        r.state === 'planning' ? { ...r, plan: { sha256, summary, tier, reasons, engineVersion, treeId: ctx.treeId!, runnerId: config.runner.id }, updatedAt: new Date().toISOString() } : null,
      );
      if (!withPlan) return 'done';
      ctx.run = await recordFingerprint({ runs, audit, log: ctx.log }, withPlan, { config, configHash: deps.configHash ?? 'unknown', workspaceDir: ctx.call!.cwd });
      await audit.append({ type: 'plan.finished', ...describeRun(ctx.run), actor: RUNNER_ACTOR, detail: { outcome: 'changes', engineVersion, reasons, ...sandboxed() } });
      ctx.log.info({ counts: summary.counts, tier, planSha256: sha256 }, 'planned');
    },
  };

  // The tier's consequence: the policy settles `auto` and `deny` alone; otherwise a human is asked.
  const request: Step<PlanContext> = {
    name: 'request',
    async run(ctx) {
      const decision = ctx.decision!;
      // A drift run's findings are told once (quiet by default); its forge issue follows the same notice.
      const notice = ctx.run.kind === 'drift' ? await drift.tell(ctx) : null;
      // The policy decides alone: `deny` ends the run, `auto` approves it (and queues the apply).
      if (decision.tier === 'deny' || (decision.tier === 'auto' && config.applies.enabled)) {
        await settleByPolicy({ transitions: deps.transitions, log: ctx.log, enqueueApply: deps.enqueueApply }, ctx.run, decision);
        return 'done';
      }
      if (!config.applies.enabled) {
        await deps.transitions.move(ctx.run, {
          from: ['planning'],
          to: 'planned',
          record: { type: 'plan.reported', detail: { reason: 'applies are disabled in the runner config (applies.enabled: false)' }, evenIfUnmoved: true },
        });
        return 'done';
      }
      if (notice?.outcome === 'suppressed') {
        await deps.transitions.move(ctx.run, {
          from: ['planning'],
          to: 'planned',
          record: { type: 'plan.reported', detail: { reason: `nobody is asked: ${notice.reason}; \`airlock replan ${ctx.run.id}\` asks again`, quiet: true }, evenIfUnmoved: true },
        });
        return 'done';
      }
      await deps.approvals.request(ctx.run);
      return 'done';
    },
  };

  return { checkout, guard, lock: drift.lock as Step<PlanContext>, init, plan, show, summarize, tier, request };
}

export type PlanSteps = ReturnType<typeof createPlanSteps>;
