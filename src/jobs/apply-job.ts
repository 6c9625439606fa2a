// The apply job: verify → lock → credentials → apply → revoke → report. It runs at most once per run:
// the move from approved to applying is a compare-and-set, and a run found already `applying` is never
// applied again; it goes to needs_attention for a human.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { AUDIT_EVENTS } from '../audit/audit.ts';
import type { CredentialProvider, Credentials } from '../credentials/credentials.ts';
import type { Engine } from '../engine/engine.ts';
import { AirlockError, toError } from '../errors.ts';
import { VaultError } from '../credentials/errors.ts';
import { StateLockedError } from '../engine/errors.ts';
import type { Scrubber } from '../log/scrub.ts';
import { engineOutputTail } from './plan-job.ts';
import { untracedJob, type TraceJob } from './step-loop.ts';
import type { RunnerPaths } from '../run/paths.ts';
import type { RunStore } from '../run/run-store.ts';
import type { RunTransitions } from '../run/transitions.ts';
import { thisHost } from '../run/run-store.ts';
import type { Run } from '../run/run.ts';
import { prepareApplyDir } from '../apply/apply-dir.ts';
import { abandonApply } from './recovery.ts';
import { readUntrusted } from '../sandbox/runner-files.ts';
import { sandboxAuditDetail } from '../engine/config.ts';
import type { NetworkMode, SandboxSettings } from '../sandbox/sandbox.ts';
import type { WorkspaceLocks } from '../apply/workspace-lock.ts';
import { untilRecorded, whenWritable } from './until-recorded.ts';

export interface ApplyStepsDeps {
  runnerId: string;
  paths: RunnerPaths;
  runs: RunStore;
  /** Every state change of a run goes through here (src/run/transitions.ts). */
  transitions: Pick<RunTransitions, 'move'>;
  locks: WorkspaceLocks;
  engine: Engine;
  /** The apply identity's secrets; if they cannot be had, the apply is refused (no fallback, no retry). */
  credentials: CredentialProvider;
  scrubber: Scrubber;
  log: Logger;
  workspaceLockWaitMs: number;
  /** The plan's working directory for a run (the exported workspace dir); the apply never runs there. */
  workDir(run: Run): string;
  /** The sandbox settings (null: engine.sandbox none), for the apply directory's permissions. */
  sandbox: SandboxSettings | null;
  /** Directories the apply shares with plans (a local backend's state dir). */
  sharedDirs(run: Run): string[];
  /** The run's workspace network setting. */
  network(run: Run): NetworkMode;
  /** The local state file of a run's workspace, if its backend is local (for lock details). */
  localStateFile(run: Run): string | null;
  /** Called with every run that reaches a final state through this job. */
  onFinal?(run: Run): Promise<void>;
  /** Hears every refusal of an approved run by its code (metrics: `airlock:apply-unapproved` must never happen). */
  onRefused?(code: string): void;
  /** Runs the job inside the run's trace (src/trace/); absent: untraced. */
  traceJob?: TraceJob;
  /** Looks for the run's approval on the audit chains themselves (audit/approval-on-record.ts). */
  approvalOnRecord?(run: Run): Promise<{ ok: true; chain: string; seq: number } | { ok: false; reason: string }>;
  /** Why the audit chain cannot take a record now, or null: nothing is applied that cannot be recorded. */
  auditWritable?(): Promise<string | null>;
}

const TAIL_BYTES = 4096;

/** Terraform's local backend keeps lock details in `.<statefile>.lock.info` beside the state file. */
export function localLockInfoPath(stateFile: string): string {
  return path.join(path.dirname(stateFile), `.${path.basename(stateFile)}.lock.info`);
}

/** Pure: why an approved run must not be applied, or null. */
export function applyPreconditionFailure(run: Run, planFileSha256: string | null): string | null {
  if (run.state !== 'approved') return `run is ${run.state}, not approved`;
  if (!run.plan || !run.decision) return 'run has no recorded approval';
  if (run.decision.decision !== 'approve') return 'the recorded decision is not an approval';
  if (run.decision.planSha256 !== run.plan.sha256) return 'the approval is bound to a different plan';
  if (planFileSha256 === null) return 'the saved plan file is missing';
  if (planFileSha256 !== run.plan.sha256) return 'the plan file on disk differs from the approved plan (sha256 mismatch)';
  return null;
}

export function createApplySteps(deps: ApplyStepsDeps) {
  const { runs } = deps;
  const gate = { writableProblem: deps.auditWritable ?? (async () => null), log: deps.log };

  async function outputTail(run: Run): Promise<string> {
    const text = await readFile(deps.paths.job(run.id).applyLog, 'utf8').catch(() => '');
    return deps.scrubber.tail(text, TAIL_BYTES); // scrubbed, then cut
  }

  async function localLockId(run: Run): Promise<string | undefined> {
    const state = deps.localStateFile(run);
    if (!state) return undefined;
    try {
      // The state dir is writable by engine sandboxes: read it the untrusting way.
      const bytes = await readUntrusted(localLockInfoPath(state), 64 * 1024);
      const info = JSON.parse(bytes?.toString('utf8') ?? '{}') as { ID?: string };
      return info.ID;
    } catch {
      return undefined;
    }
  }

  async function end(run: Run): Promise<void> {
    await deps.onFinal?.(run);
  }

  /**
   * End an approved run that must not be applied: failed with `code`, recorded as `type` (apply.refused or
   * apply.failed) even when the run had moved on meanwhile, and the approvers told. Nothing was applied.
   */
  async function refuse(run: Run, type: 'apply.refused' | 'apply.failed', error: { code: string; message: string }, detail: Record<string, unknown>, logLine?: { msg: string; fields?: Record<string, unknown>; logger: Logger }): Promise<null> {
    deps.onRefused?.(error.code);
    const failed = await deps.transitions.move(run, { from: ['approved'], to: 'failed', patch: { error }, record: { type, detail, evenIfUnmoved: true } });
    if (logLine) logLine.logger.error(logLine.fields ?? {}, logLine.msg);
    if (failed) await end(failed);
    return null;
  }

  /** The apply identity failed: refuse on the record with the reason. Never the plan identity, never again. */
  async function refuseWithoutCredentials(run: Run, thrown: unknown, log: Logger): Promise<null> {
    const err = toError(thrown);
    const code = err instanceof AirlockError ? err.code : 'airlock:credentials-error';
    const hint = err instanceof AirlockError && err.hint ? ` Next: ${err.hint}` : '';
    const message = deps.scrubber.scrubString(`${err.message}; nothing was applied.${hint}`);
    const alert = err instanceof VaultError && err.alert;
    return refuse(run, 'apply.refused', { code, message }, { code, reason: message, alert }, { msg: 'apply refused: the apply identity could not be used', fields: { err, code, alert }, logger: log });
  }

  /** The apply job on the run as it was read when the job started. */
  async function applyRun(run: Run): Promise<void> {
    const runId = run.id;
    const log = deps.log.child({ runId, repo: run.repo, workspace: run.workspace, sha: run.sha });
    if (run.state === 'applying') {
      await steps.abandon(runId, 'the apply was interrupted (the worker stopped mid-apply); it is never re-run automatically');
      return;
    }
    const job = deps.paths.job(run.id);

    // verify: the approved bytes are copied into the apply's own directory and hashed in one pass
    const applyDir = await prepareApplyDir(job.dir, job.planFile, deps.sandbox, deps.workDir(run));
    const fileSha = applyDir?.sha256 ?? null;
    const failure = applyPreconditionFailure(run, fileSha);
    if (failure) {
      if (run.state !== 'approved') {
        log.warn({ state: run.state }, 'apply skipped: run is not approved');
        return;
      }
      await refuse(run, 'apply.refused', { code: 'airlock:apply-refused', message: failure }, { reason: failure, planFileSha256: fileSha }, { msg: 'apply refused', fields: { reason: failure }, logger: log });
      return;
    }
    // Redis says approved; the audit chain must say so too, for exactly this plan, or nothing runs.
    const onRecord = deps.approvalOnRecord ? await deps.approvalOnRecord(run) : null;
    if (onRecord && !onRecord.ok) {
      const fields = { event: AUDIT_EVENTS.applyUnapproved, reason: onRecord.reason };
      await refuse(run, 'apply.refused', { code: 'airlock:apply-unapproved', message: onRecord.reason }, { code: 'airlock:apply-unapproved', reason: onRecord.reason }, { msg: 'apply refused: no matching approval on the audit chain', fields, logger: log });
      return;
    }
    if (onRecord?.ok) log.info({ approval: { chain: onRecord.chain, seq: onRecord.seq } }, 'approval found on the audit chain');
    // Nothing starts that could not be recorded: the run stays approved until the chain takes records.
    await whenWritable({ ...gate, log }, `the apply of ${run.id}`);

    // lock
    const lock = await deps.locks.acquire(run.repo, run.workspace, `${deps.runnerId}@${thisHost}:${process.pid} apply ${run.id}`, deps.workspaceLockWaitMs);
    if (!lock) {
      await refuse(run, 'apply.failed', { code: 'airlock:workspace-busy', message: 'another apply held the workspace lock for too long' }, { code: 'airlock:workspace-busy' });
      return;
    }
    let creds: Credentials | null = null;
    try {
      // credentials: the apply identity only, fetched under the lock and revoked in `finally`
      creds = await deps.credentials.forApply(run).catch((err: unknown) => refuseWithoutCredentials(run, err, log));
      if (!creds) return;
      // the point of no return: from here on a crash means needs_attention, never a second apply
      const applying = await untilRecorded({ ...gate, log }, `the apply of ${run.id}`, () =>
        deps.transitions.move(run, {
          from: ['approved'],
          to: 'applying',
          patch: { apply: { startedAt: new Date().toISOString(), fence: lock.fence, runnerId: deps.runnerId, host: thisHost, pid: process.pid } },
          record: { type: 'apply.started', detail: { fence: lock.fence, ...sandboxAuditDetail(deps.sandbox !== null) } },
        }),
      );
      if (!applying) {
        log.warn('run left approved before the apply started; nothing applied');
        return;
      }
      if (!(await lock.isHeld())) throw new AirlockError('airlock:lock-lost', 'lost the workspace lock before applying');
      log.info({ fence: lock.fence }, 'applying');

      let ended: Run | null;
      try {
        const dir = applyDir!;
        const readOnly = [{ source: dir.planFile, dest: dir.planFile }, ...(dir.lockFile ? [{ source: dir.lockFile, dest: path.join(dir.work, '.terraform.lock.hcl') }] : [])];
        const result = await deps.engine.apply(
          {
            cwd: dir.work,
            homeDir: dir.home,
            phase: 'apply',
            writable: [dir.work],
            shared: deps.sharedDirs(run),
            readOnly,
            network: deps.network(run),
            secrets: creds.env,
            logFile: job.applyLog,
            onLine: (line) => log.debug({ engine: line }, 'engine output'),
          },
          dir.planFile,
        ).finally(() => creds?.release()); // revoked as soon as the engine exits, before the run is recorded
        // The engine has run: its outcome waits for the chain rather than go unrecorded.
        ended = await untilRecorded({ ...gate, log }, `the outcome of ${run.id}`, () =>
          deps.transitions.move(applying, {
            from: ['applying'],
            to: 'applied',
            patch: { apply: { ...applying.apply!, finishedAt: new Date().toISOString() } },
            record: { type: 'apply.finished', detail: { outcome: 'applied', durationMs: result.durationMs, fence: lock.fence }, evenIfUnmoved: true },
          }),
        );
        log.info({ durationMs: result.durationMs }, 'applied');
      } catch (thrown) {
        const err = toError(thrown);
        const code = err instanceof AirlockError ? err.code : 'airlock:apply-error';
        const lockInfo = err instanceof StateLockedError ? err.lockInfo : undefined;
        const message = deps.scrubber.scrubString(err.message);
        const tail = deps.scrubber.scrubString(engineOutputTail(err) ?? '');
        const attention = lockInfo?.id ? { attention: { reason: message, lockId: lockInfo.id, outputTail: await outputTail(applying) } } : {};
        ended = await untilRecorded({ ...gate, log }, `the outcome of ${run.id}`, () =>
          deps.transitions.move(applying, {
            from: ['applying'],
            to: 'failed',
            patch: { error: { code, message, ...(tail ? { tail } : {}) }, ...attention },
            record: { type: 'apply.failed', detail: { code, message, lockId: lockInfo?.id ?? null }, evenIfUnmoved: true },
          }),
        );
        log.error({ err, code }, 'apply failed');
      }
      if (ended) await end(ended);
    } finally {
      await creds?.release();
      await lock.release();
    }
  }

  const steps = {
    /** A worker died while holding this apply: record what is known and hand it to a human (recovery.ts). */
    abandon: (runId: string, reason: string) => abandonApply({ ...deps, outputTail, localLockId }, runId, reason),

    /** Run the apply job for `runId`. Never throws for BullMQ to retry: an apply is attempted once. */
    async apply(runId: string): Promise<void> {
      const run = await runs.get(runId);
      await (deps.traceJob ?? untracedJob)('apply', run, () => applyRun(run));
    },
  };
  return steps;
}

export type ApplySteps = ReturnType<typeof createApplySteps>;
