// Engine failures, one class per signal, each with a stable code.
//
// `outputTail` is the last few KB of RAW engine output. Terraform prints attribute values, variable
// values and provider errors verbatim, so it can contain secrets: callers must pass it through the
// value scrubber (src/log/scrub.ts) before it reaches a log line, a notification, a PR comment or an
// error shown to anyone. It is deliberately not part of `message`.

import { AirlockError, type AirlockCode } from '../errors.ts';
import type { EngineKind, EngineStep, LockInfo } from './engine.ts';

interface RunContext {
  step: EngineStep;
  outputTail: string;
  cause?: unknown;
}

/** Base of the errors raised while an engine process ran. */
export class EngineRunError extends AirlockError {
  readonly step: EngineStep;
  declare readonly outputTail: string;

  constructor(code: AirlockCode, message: string, ctx: RunContext & { hint?: string }) {
    super(code, message, { cause: ctx.cause, hint: ctx.hint });
    this.step = ctx.step;
    // Non-enumerable, so a logger's error serializer or JSON.stringify cannot ship it by accident.
    Object.defineProperty(this, 'outputTail', { value: ctx.outputTail, enumerable: false });
  }
}

export class EngineFailedError extends EngineRunError {
  readonly exitCode: number;

  constructor(ctx: RunContext & { exitCode: number }) {
    super('airlock:engine-failed', `engine ${ctx.step} failed with exit code ${ctx.exitCode}; the engine's own error is at the end of its output`, {
      ...ctx,
      hint: 'Fix the configuration error reported in the engine output, then push a new commit.',
    });
    this.exitCode = ctx.exitCode;
  }
}

export class EngineTimeoutError extends EngineRunError {
  readonly timeoutMs: number;

  constructor(ctx: RunContext & { timeoutMs: number }) {
    super('airlock:engine-timeout', `engine ${ctx.step} did not finish within ${ctx.timeoutMs} ms and was stopped (its whole process group was killed)`, {
      ...ctx,
      hint: `Raise engine.timeouts.${ctx.step} in the runner config if this workspace is legitimately slow; the state lock may need releasing if ${ctx.step} held it.`,
    });
    this.timeoutMs = ctx.timeoutMs;
  }
}

export class EngineKilledError extends EngineRunError {
  readonly signal: string | undefined;
  /** True when Airlock stopped the process because the caller's AbortSignal fired. */
  readonly cancelled: boolean;

  constructor(ctx: RunContext & { signal: string | undefined; cancelled: boolean }) {
    super(
      'airlock:engine-killed',
      ctx.cancelled
        ? `engine ${ctx.step} was cancelled and its process group was stopped`
        : `engine ${ctx.step} was killed by ${ctx.signal ?? 'a signal'} before it finished`,
      { ...ctx, hint: ctx.cancelled ? undefined : 'Check the host for an OOM kill or an operator action; rerun the job once the cause is known.' },
    );
    this.signal = ctx.signal;
    this.cancelled = ctx.cancelled;
  }
}

export class PlanStaleError extends EngineRunError {
  readonly reason: 'serial' | 'lineage';

  constructor(ctx: RunContext & { reason: 'serial' | 'lineage' }) {
    super(
      'airlock:plan-stale',
      ctx.reason === 'lineage'
        ? 'the saved plan was made against a different state lineage and cannot be applied'
        : 'the saved plan is stale: the state changed after the plan was made, so it was not applied',
      { ...ctx, hint: 'Nothing was changed. Re-plan the pull request head and approve the new plan.' },
    );
    this.reason = ctx.reason;
  }
}

export class StateLockedError extends EngineRunError {
  readonly lockInfo: LockInfo | undefined;

  constructor(ctx: RunContext & { lockInfo: LockInfo | undefined; kind: EngineKind }) {
    const info = ctx.lockInfo;
    const unlock = `${ctx.kind} force-unlock ${info?.id || '<ID>'}`;
    super(
      'airlock:state-locked',
      info?.id
        ? `the state is locked by ${info.who || 'an unknown holder'} (${info.operation || 'unknown operation'} since ${info.created || 'an unknown time'}), lock ID ${info.id}; ` +
            `check that no plan or apply is running on it, then release it with \`${unlock}\` in the workspace directory`
        : `the state is locked by another operation and no lock info was printed; check that no plan or apply is running, then release it with \`${unlock}\``,
      { ...ctx, hint: 'Waiting is usually right: another run holds the lock. Force-unlocking under a running apply can corrupt state.' },
    );
    this.lockInfo = info;
  }
}

export class EngineNotFoundError extends AirlockError {
  readonly binary: string;

  constructor(binary: string, cause: unknown) {
    super('airlock:engine-not-found', `engine binary \`${binary}\` was not found or is not executable`, {
      cause,
      hint: 'Set engine.binary in the runner config to the absolute path of terraform or tofu.',
    });
    this.binary = binary;
  }
}

export class EngineEnvError extends AirlockError {
  readonly key: string;

  constructor(key: string, where: 'engine.env' | 'secrets', why: string) {
    super('airlock:engine-env', `${where}: \`${key}\` is not allowed in the engine environment: ${why}`, {
      hint: where === 'engine.env' ? `Remove \`${key}\` from engine.env in the runner config.` : `Do not map a credential to \`${key}\`.`,
    });
    this.key = key;
  }
}

/** The engine ran, but its output could not be stored or read (disk full, unparseable version). */
export class EngineOutputError extends AirlockError {
  constructor(message: string, cause: unknown) {
    super('airlock:engine-output', message, { cause, hint: 'Check free space and permissions in the job directory.' });
  }
}
