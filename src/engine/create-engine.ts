// The five engine steps over runEngine (or a session's driver): command lines in, domain results or domain
// errors out.

import { chmod, mkdtemp, rm, unlink } from 'node:fs/promises';
import { copyHashed, copyHashedOver, shareReadOnlyWithSandbox } from '../sandbox/runner-files.ts';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { classifyEngineFailure } from './classify-failure.ts';
import type { Engine, EngineCall, EngineSession, EngineSpec, EngineStep, PlanOutcome } from './engine.ts';
import { createDriverSession } from './engine-session.ts';
import { buildEngineArgs, interpretPlanExit, parseVersionOutput } from './engine-rules.ts';
import { EngineFailedError, EngineOutputError, PlanStaleError, StateLockedError, type EngineRunError } from './errors.ts';
import { runEngine, type RunRequest, type RunResult } from './run-engine.ts';

/** Turn a non-zero exit into the most specific error its diagnostics support. */
function failureFor(spec: EngineSpec, step: EngineStep, result: RunResult): EngineRunError {
  const ctx = { step, outputTail: result.outputTail };
  // Only stderr is classified: stdout carries planned values, which a pull request controls.
  const failure = classifyEngineFailure(result.stderrTail);
  if (failure.kind === 'plan-stale' && step === 'apply') return new PlanStaleError({ ...ctx, reason: failure.reason });
  if (failure.kind === 'state-locked' && step !== 'show' && step !== 'version') {
    return new StateLockedError({ ...ctx, lockInfo: failure.lockInfo, kind: spec.kind });
  }
  return new EngineFailedError({ ...ctx, exitCode: result.exitCode });
}

type RunStep = (req: RunRequest) => Promise<RunResult>;

/** false for ENOENT (rethrows anything else). */
const missing = (err: unknown): false => {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
  throw err;
};

/**
 * The job steps over `runStep`. `inSession`: the plan file is the session's placeholder, which its sandbox
 * sees through a read-only bind of that very file, so the plan's bytes are copied into it, not beside it.
 */
function jobSteps(spec: EngineSpec, runStep: RunStep, inSession: boolean) {
  const run = (step: EngineStep, call: EngineCall, planFile?: string, extra: { stdoutFile?: string; captureStdout?: boolean } = {}) =>
    runStep({ spec, step, call, args: buildEngineArgs(step, spec, planFile), ...extra });

  return {
    async init(call: EngineCall): Promise<void> {
      const result = await run('init', call);
      if (result.exitCode !== 0) throw failureFor(spec, 'init', result);
    },

    async plan(call: EngineCall, planFile: string): Promise<PlanOutcome> {
      const file = resolve(call.cwd, planFile);
      // In a sandbox the engine writes into its own HOME; the runner then copies the bytes out into a
      // file only it can write, so nothing the sandbox does later can change what gets hashed.
      const written = spec.sandbox ? join(call.homeDir, 'airlock-plan.tfplan') : file;
      if (spec.sandbox) await rm(written, { force: true });
      const result = await run('plan', call, written);
      const outcome = interpretPlanExit(result.exitCode);
      if (!outcome) throw failureFor(spec, 'plan', result);
      try {
        // A session's placeholder is filled in place; a session that never started its sandbox made none.
        if (spec.sandbox && inSession && (await copyHashedOver(written, file).then(() => true, missing))) {
          await rm(written, { force: true });
        } else if (spec.sandbox) {
          await rm(file, { force: true });
          await copyHashed(written, file);
          await rm(written, { force: true });
          await shareReadOnlyWithSandbox(file, spec.sandbox);
        } else {
          // The plan holds every planned value unredacted; the job dir is 0700, the file 0600.
          await chmod(file, 0o600);
        }
      } catch (err) {
        throw new EngineOutputError(`plan exited ${result.exitCode} but its plan file ${file} could not be secured`, err);
      }
      return { ...outcome, durationMs: result.durationMs };
    },

    async showJson(call: EngineCall, planFile: string, outFile: string): Promise<void> {
      const out = resolve(call.cwd, outFile);
      const file = resolve(call.cwd, planFile);
      // The sandbox reads the runner's hashed copy through a read-only bind.
      const shown = spec.sandbox ? { ...call, readOnly: [...(call.readOnly ?? []), { source: file, dest: file }] } : call;
      try {
        const result = await run('show', shown, file, { stdoutFile: out });
        if (result.exitCode !== 0) throw failureFor(spec, 'show', result);
        await chmod(out, 0o600);
      } catch (err) {
        // A truncated plan JSON must never be mistaken for a complete one.
        await unlink(out).catch(() => undefined);
        throw err;
      }
    },

    async apply(call: EngineCall, planFile: string): Promise<{ durationMs: number }> {
      const result = await run('apply', call, resolve(call.cwd, planFile));
      if (result.exitCode !== 0) throw failureFor(spec, 'apply', result);
      return { durationMs: result.durationMs };
    },
  };
}

/** An Engine bound to one host configuration. */
export function createEngine(spec: EngineSpec): Engine {
  const steps = jobSteps(spec, runEngine, false);
  return {
    ...steps,

    async version(call = {}) {
      const scratch = call.cwd && call.homeDir ? undefined : await mkdtemp(join(tmpdir(), 'airlock-engine-version-'));
      try {
        const full: EngineCall = { ...call, cwd: call.cwd ?? scratch!, homeDir: call.homeDir ?? join(scratch!, 'home') };
        const result = await runEngine({ spec, step: 'version', call: full, args: buildEngineArgs('version', spec), captureStdout: true });
        if (result.exitCode !== 0) throw failureFor(spec, 'version', result);
        const parsed = parseVersionOutput(result.stdout);
        if (!parsed) throw new EngineOutputError(`\`${spec.binary} version -json\` did not print JSON with a terraform_version; is engine.binary really ${spec.kind}?`, undefined);
        return { kind: spec.kind, version: parsed.version, raw: parsed.raw };
      } finally {
        if (scratch) await rm(scratch, { recursive: true, force: true });
      }
    },

    session({ planFile }): EngineSession {
      // Without a sandbox, or with engine.sandbox.session off, there is nothing to share: one process per step.
      if (!spec.sandbox || spec.sandbox.sessions === false) return { ...steps, close: async () => undefined };
      const session = createDriverSession(spec, { planFile });
      const { init, plan, showJson } = jobSteps(spec, (req) => session.run(req), true);
      return { init, plan, showJson, close: () => session.close() };
    },
  };
}
