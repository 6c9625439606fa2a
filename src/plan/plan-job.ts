// The plan job: checkout → guard → init → plan → show → summarize → tier → request approval.
// Each step may run attacker-controlled code only inside the engine child; between steps the run is
// checked for a newer head, so a superseded plan never reaches an approver.
import { mkdir, rm, writeFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { RunStore } from '../apply/run-store.ts';
import { transition, type Run } from '../apply/run.ts';
import { describeRun, RUNNER_ACTOR } from '../audit/audit.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { recordAttribution, recordFingerprint } from '../audit/record-run.ts';
import type { ApprovalService } from '../approve/approval-service.ts';
import { exportCommit, fetchCommit, ensureMirror, type CheckoutLimits } from '../checkout/checkout.ts';
import type { RunnerConfig } from '../config/schema.ts';
import type { CredentialProvider, Credentials } from '../credentials/credentials.ts';
import { VaultError } from '../credentials/errors.ts';
import type { Engine, EngineCall } from '../engine/engine.ts';
import { OUTPUT_TAIL } from '../engine/output-collector.ts';
import { AirlockError, toError } from '../errors.ts';
import { describeViolation, guardFetchedModules, guardTree, GuardRefusedError } from '../guard/guard.ts';
import { guardOptionsFor } from '../guard/options.ts';
import { evaluatePolicy } from '../policy/policy.ts';
import { createPolicyCollector } from '../policy/policy-collector.ts';
import { resumePolicyApproval, settleByPolicy } from '../policy/policy-steps.ts';
import { scrubber } from '../log/scrub.ts';
import { freshJobDir, type RunnerPaths } from '../runner/paths.ts';
import { sandboxAuditDetail } from '../engine/config.ts';
import type { NetworkMode } from '../sandbox/sandbox.ts';
import { makeDurable, sha256File } from './plan-file.ts';
import { planViewOf, writePlanView } from '../approve/plan-view.ts';
import { summarizePlanFile } from './read-plan-json.ts';
import { withValueDiffs } from './value-diff.ts';

export interface PlanStepsDeps {
  config: RunnerConfig;
  paths: RunnerPaths;
  runs: RunStore;
  approvals: ApprovalService;
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
}

/** The first reason of every plan while the kill switch is off, so every summary says so. */
export const APPLIES_OFF_REASON = '[applies-off] applies are switched off in the runner config (applies.enabled: false): this plan is reported only, nothing will be applied';

// Failures that another attempt cannot fix: the run ends at once.
const PERMANENT = new Set([
  'airlock:checkout-refused',
  'airlock:guard-refused',
  'airlock:bad-sha',
  'airlock:commit-gone',
  'airlock:plan-json',
  'airlock:engine-failed',
  'airlock:engine-env',
  'airlock:engine-not-found',
  'airlock:workspace-missing',
  // The host lacks a piece of the sandbox: fixing it is the operator's job; re-plan afterwards.
  'airlock:sandbox-unavailable',
]);

async function isDirectory(dir: string): Promise<boolean> {
  return stat(dir).then((s) => s.isDirectory(), () => false);
}

/** Whether a plan failure is worth another attempt. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof VaultError) return err.retryable;
  return !(err instanceof AirlockError && PERMANENT.has(err.code));
}

class Superseded extends Error {}

export function createPlanSteps(deps: PlanStepsDeps) {
  const { config, paths, runs, audit } = deps;

  async function stillLatest(run: Run): Promise<void> {
    const latest = await runs.latestFor(run);
    if (latest !== null && latest !== run.id) {
      await deps.approvals.supersede(run.id, latest);
      throw new Superseded();
    }
  }

  function engineCall(run: Run, log: Logger): EngineCall {
    const job = paths.job(run.id);
    const ws = workspaceOf(config, run);
    return {
      cwd: path.join(job.tree, ws.dir),
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

  // The binary does not change under a running runner: one `version` process per runner, not per plan.
  let versionPromise: Promise<string> | null = null;
  function engineVersionOnce(homeDir: string): Promise<string> {
    versionPromise ??= deps.engine.version({ homeDir }).then((v) => v.version);
    versionPromise.catch(() => {
      versionPromise = null;
    });
    return versionPromise;
  }

  return {
    /** Run the plan job for `runId`. Throws when BullMQ should retry; ends the run itself otherwise. */
    async plan(runId: string, attempt: { attempt: number; maxAttempts: number }): Promise<void> {
      let run = await runs.get(runId);
      if (run.state !== 'planning') {
        await resumePolicyApproval(deps, run);
        return;
      }
      const log = deps.log.child({ runId, repo: run.repo, workspace: run.workspace, sha: run.sha });
      const job = paths.job(run.id);
      let creds: Credentials | null = null;
      try {
        await stillLatest(run);
        await audit.append({ type: 'plan.started', ...describeRun(run), actor: RUNNER_ACTOR, detail: { attempt: attempt.attempt, ...sandboxAuditDetail(config.engine.sandbox !== 'none') } });
        log.info({ attempt: attempt.attempt }, 'planning');

        // checkout
        await freshJobDir(paths, run.id);
        await mkdir(job.home, { mode: 0o700 });
        const repo = repoOf(config, run);
        const limits: CheckoutLimits = { ...config.checkout, timeoutMs: config.checkout.timeout, allowSubmodules: config.guard.allowSubmodules };
        await ensureMirror(paths.mirror(repo.name), repo.url);
        await fetchCommit(paths.mirror(repo.name), repo.url, run.sha, { timeoutMs: config.checkout.timeout });
        const tree = await exportCommit(paths.mirror(repo.name), run.sha, job.tree, limits);
        run = await recordAttribution({ runs, audit, log }, run, paths.mirror(repo.name), config.audit.agents);
        await stillLatest(run);

        // guard
        const call = engineCall(run, log);
        if (!(await isDirectory(call.cwd))) {
          throw new AirlockError('airlock:workspace-missing', `workspace ${JSON.stringify(run.workspace)} plans directory ${JSON.stringify(workspaceOf(config, run).dir)}, which commit ${run.sha.slice(0, 12)} does not have`, {
            hint: 'Add the directory in the pull request, or fix `dir` of the workspace in the runner config.',
          });
        }
        const guardOptions = guardOptionsFor(config, run);
        const guarded = await guardTree(job.tree, guardOptions);
        await writeBackendOverride(call.cwd, backendFor(config, paths, run));

        // init, plan (with the plan identity's secrets, fetched now and revoked in `finally`)
        await deps.providersReady;
        creds = await deps.credentials.forPlan(run);
        call.secrets = creds.env;
        await deps.engine.init(call);
        guarded.warnings.push(...(await guardFetchedModules(job.tree, guardOptions)).warnings); // the code init fetched, before plan runs it
        await stillLatest(run);
        const outcome = await deps.engine.plan(call, job.planFile);
        if (!outcome.changes) await creds.release(); // the engine is done with them: revoke before recording
        const engineVersion = await engineVersionOnce(job.home);
        if (!outcome.changes) {
          run = (await runs.moveIf(run.id, ['planning'], 'no_changes'))!;
          await audit.append({ type: 'plan.finished', ...describeRun(run), actor: RUNNER_ACTOR, detail: { outcome: 'no_changes', engineVersion, ...sandboxAuditDetail(config.engine.sandbox !== 'none') } });
          log.info('no changes');
          return;
        }

        // show, summarize, tier
        await makeDurable(job.planFile);
        const sha256 = await sha256File(job.planFile);
        await deps.engine.showJson(call, job.planFile, job.planJson);
        await creds.release(); // the last engine call of the plan: revoke before anyone is asked
        const collector = createPolicyCollector(config.policy);
        const { result: summary, values } = await withValueDiffs(job.planJson, () => summarizePlanFile(job.planJson, { picker: collector, onEntry: (e) => collector.add(e) })).finally(() => rm(job.planJson, { force: true }));
        const decision = evaluatePolicy(summary, collector.values(), config.policy);
        const { tier } = decision;
        const reasons = [
          ...(config.applies.enabled || tier === 'deny' ? [] : [APPLIES_OFF_REASON]),
          ...decision.reasons,
          ...guarded.warnings.map((w) => `guard warning (lenient mode) ${describeViolation(w)}`),
        ];
        // What the approver will read, from what this job computed, written after the last engine process exited.
        await writePlanView(job.planView, planViewOf(run, { sha256, tier, reasons, summary, values, showValues: config.approval.showValues }));
        run = (await runs.update(run.id, (r) =>
          r.state === 'planning' ? { ...r, plan: { sha256, summary, tier, reasons, engineVersion, treeId: tree.treeId, runnerId: config.runner.id }, updatedAt: new Date().toISOString() } : null,
        )) ?? (await runs.get(run.id));
        if (run.state !== 'planning') return;
        run = await recordFingerprint({ runs, audit, log }, run, { config, configHash: deps.configHash ?? 'unknown', workspaceDir: call.cwd });
        await audit.append({ type: 'plan.finished', ...describeRun(run), actor: RUNNER_ACTOR, detail: { outcome: 'changes', engineVersion, reasons, ...sandboxAuditDetail(config.engine.sandbox !== 'none') } });
        log.info({ counts: summary.counts, tier, planSha256: sha256 }, 'planned');

        // request approval, unless the policy decides alone: `deny` ends the run, `auto` approves it
        if (tier === 'deny' || (tier === 'auto' && config.applies.enabled)) {
          await stillLatest(run);
          await settleByPolicy({ runs, audit, log, enqueueApply: deps.enqueueApply }, run, decision);
          return;
        }
        if (!config.applies.enabled) {
          run = (await runs.moveIf(run.id, ['planning'], 'planned')) ?? run;
          await audit.append({ type: 'plan.reported', ...describeRun(run), actor: RUNNER_ACTOR, detail: { reason: 'applies are disabled in the runner config (applies.enabled: false)' } });
          return;
        }
        await stillLatest(run);
        await deps.approvals.request(run);
      } catch (thrown) {
        await creds?.release(); // revoked before the outcome is recorded, as on success
        if (thrown instanceof Superseded) return;
        const err = toError(thrown);
        const retry = isRetryable(err) && attempt.attempt < attempt.maxAttempts;
        const code = err instanceof AirlockError ? err.code : 'airlock:plan-error';
        if (retry) {
          await audit.append({ type: 'plan.retry', ...describeRun(run), actor: RUNNER_ACTOR, detail: { code, message: err.message, attempt: attempt.attempt } });
          log.warn({ err, attempt: attempt.attempt }, 'plan attempt failed; will retry');
          throw err;
        }
        const refused = code === 'airlock:guard-refused' || code === 'airlock:checkout-refused';
        const tail = engineOutputTail(err);
        const ended = await runs.moveIf(run.id, ['planning'], refused ? 'refused' : 'failed', {
          error: { code, message: err.message, ...(tail ? { tail } : {}) },
          ...(refused ? { refusal: refusalLines(err) } : {}),
        });
        await audit.append({
          type: refused ? 'plan.refused' : 'plan.failed',
          ...describeRun(ended ?? run),
          actor: RUNNER_ACTOR,
          detail: { code, message: err.message, attempts: attempt.attempt, ...(refused ? { reasons: refusalLines(err) } : {}) },
        });
        log.error({ err }, refused ? 'plan refused' : 'plan failed');
        throw new PlanEndedError(err);
      } finally {
        await creds?.release();
      }
    },
  };
}

/** One line per broken rule (rule id, file, block address) for `airlock show` and the audit log. */
function refusalLines(err: Error): string[] {
  return err instanceof GuardRefusedError ? err.violations.map(describeViolation) : [err.message];
}

/**
 * The last lines of an engine failure's output, scrubbed before they are cut: a secret the output tail cut in
 * half at its start is scrubbed too (the run store scrubs again on write).
 */
export function engineOutputTail(err: Error, lines = 20): string | undefined {
  const tail = (err as { outputTail?: unknown }).outputTail;
  if (typeof tail !== 'string' || tail.length === 0) return undefined;
  return scrubber.scrubCut(tail, { before: tail.length >= OUTPUT_TAIL }).split('\n').slice(-lines).join('\n');
}

/** The plan job ended the run; BullMQ must not retry it. */
export class PlanEndedError extends AirlockError {
  constructor(cause: Error) {
    super('airlock:plan-ended', cause.message, { cause });
  }
}

export function repoOf(config: RunnerConfig, run: Pick<Run, 'repo'>) {
  const repo = config.repos.find((r) => r.name === run.repo);
  if (!repo) throw new AirlockError('airlock:repo-unknown', `repo ${JSON.stringify(run.repo)} is no longer in the runner config`);
  return repo;
}

export function workspaceOf(config: RunnerConfig, run: Pick<Run, 'repo' | 'workspace'>) {
  const ws = repoOf(config, run).workspaces.find((w) => w.name === run.workspace);
  if (!ws) throw new AirlockError('airlock:workspace-unknown', `workspace ${JSON.stringify(run.workspace)} is no longer in the runner config`);
  return ws;
}

/** The pinned backend for a run's workspace; a local backend keeps state under the data dir. */
export function backendFor(config: RunnerConfig, paths: RunnerPaths, run: Pick<Run, 'repo' | 'workspace'>) {
  const backend = workspaceOf(config, run).backend ?? config.backend;
  if (backend.type === 'local' && backend.config['path'] === undefined) {
    return { type: 'local', config: { ...backend.config, path: paths.stateFile(run.repo, run.workspace) } };
  }
  return backend;
}

/** Directories plans and applies both write: a local backend's state directory. */
export function sharedDirsFor(config: RunnerConfig, paths: RunnerPaths, run: Pick<Run, 'repo' | 'workspace'>): string[] {
  const backend = backendFor(config, paths, run);
  const statePath = backend.config['path'];
  return backend.type === 'local' && typeof statePath === 'string' && path.isAbsolute(statePath) ? [path.dirname(statePath)] : [];
}

/** The engine network of a run's workspace. */
export function networkFor(config: RunnerConfig, run: Pick<Run, 'repo' | 'workspace'>): NetworkMode {
  return workspaceOf(config, run).network ?? config.engine.network;
}

/** The runner's backend, written as an override file so that nothing in the repo can choose it. */
async function writeBackendOverride(cwd: string, backend: { type: string; config: Record<string, unknown> }): Promise<void> {
  if (backend.type === 'local' && typeof backend.config['path'] === 'string') {
    await mkdir(path.dirname(backend.config['path']), { recursive: true, mode: 0o700 });
  }
  const body = { terraform: { backend: { [backend.type]: backend.config } } };
  await writeFile(path.join(cwd, 'airlock_backend_override.tf.json'), `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
}
