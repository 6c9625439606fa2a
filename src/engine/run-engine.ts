// Running one engine step: the only code that imports execa or reads its result fields. superviseStep
// watches a step however it was started (its own sandbox here, or a session's driver in
// engine-session.ts): output, timeout, cancellation, and how it ended. A command of its own leads its own
// process group (detached), so a timeout or cancellation can stop the engine together with its providers
// and anything they started; execa's own `timeout` and `cancelSignal` would kill the direct child only.

import { execa } from 'execa';
import { chmod, mkdir, open, stat, writeFile } from 'node:fs/promises';
import { createWriteStream, type WriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { AirlockError } from '../errors.ts';
import type { EngineCall, EngineSpec, EngineStep } from './engine.ts';
import { DEFAULT_KILL_GRACE_MS } from './engine-rules.ts';
import { buildEngineEnv, cliConfigPath } from './engine-env.ts';
import { EngineKilledError, EngineNotFoundError, EngineOutputError, EngineTimeoutError } from './errors.ts';
import { createOutputCollector } from './output-collector.ts';
import type { SandboxLaunch, StartedSandbox } from '../sandbox/launch.ts';
import { prepareEngineSandbox, signalFromStatus } from './engine-sandbox.ts';
import { SandboxStartError, SandboxUnavailableError } from '../sandbox/errors.ts';
import { SANDBOX_CLI_CONFIG } from '../sandbox/sandbox.ts';

export interface RunRequest {
  spec: EngineSpec;
  step: EngineStep;
  args: string[];
  call: EngineCall;
  /** Stream stdout into this file (created 0600) instead of into lines, log and tail. */
  stdoutFile?: string;
  /** Keep stdout in memory; only for small outputs such as `version -json`. */
  captureStdout?: boolean;
}

export interface RunResult {
  exitCode: number;
  durationMs: number;
  stdout: string;
  /** Last ~4 KB of combined output. Raw: may contain secrets. */
  outputTail: string;
  /** Last ~16 KB of stderr, where the engine prints its diagnostics. Raw: may contain secrets. */
  stderrTail: string;
}

const NOT_FOUND = new Set(['ENOENT', 'EACCES', 'ENOTDIR']);

/** How a step's process ended, as execa or a session driver reports it. */
export interface StepEnd {
  exitCode?: number;
  signal?: string;
  /** The spawn's error code (ENOENT…) when the process could not start. */
  code?: string;
  shortMessage?: string;
  /** The sandbox did not come up around the command (SandboxStartError), or failed otherwise. */
  sandboxError?: unknown;
}

/** One running step, however it was started: its output, its end, and how to stop it. */
export interface StepHandle {
  stdout: Readable | null | undefined;
  stderr: Readable | null | undefined;
  /** Resolves once the step's process has exited (its stragglers are being or have been killed). */
  exited: Promise<void>;
  /** Resolves once the step ended and its output is complete. */
  ended: Promise<StepEnd>;
  /** SIGTERM asks the engine to stop; SIGKILL ends everything the step started. */
  signal(signal: 'SIGTERM' | 'SIGKILL'): void;
}

/** What the step runs in: a sandbox (and which program starts it), or nothing. */
export interface StepWall {
  sandboxed: boolean;
  launchFile?: string;
}

/** Checks every step makes before anything starts. */
export async function checkStepStart(req: RunRequest): Promise<void> {
  const { step, call } = req;
  if (call.signal?.aborted) throw new EngineKilledError({ step, outputTail: '', signal: undefined, cancelled: true, cause: call.signal.reason });
  await assertDirectory(call.cwd);
}

/** Run one engine command to completion in a sandbox of its own; throws only when it could not run or was stopped. */
export async function runEngine(req: RunRequest): Promise<RunResult> {
  const { spec, call } = req;
  await checkStepStart(req);
  // Fail closed: every piece of the sandbox is checked before any process exists.
  if (spec.sandbox) await mkdir(call.homeDir, { recursive: true, mode: 0o700 });
  const launch = spec.sandbox ? await prepareEngineSandbox(spec, req) : null;
  const env = buildEngineEnv(spec, call, launch ? SANDBOX_CLI_CONFIG : undefined);
  if (!launch) await prepareHome(call.homeDir, call.cliConfig ?? '');
  return superviseStep(req, { sandboxed: launch !== null, launchFile: launch?.file }, () => startCommand(req, launch, env));
}

/**
 * Start a step (`start`), then watch it: output into lines, log and tails (or into `stdoutFile`), the step's
 * timeout and the call's cancellation (SIGTERM, then SIGKILL after the grace), and how it ended.
 */
export async function superviseStep(req: RunRequest, wall: StepWall, start: () => StepHandle): Promise<RunResult> {
  const { spec, step, call } = req;
  const log = call.logFile ? await openLog(call.logFile, `$ ${spec.kind} ${req.args.join(' ')}\n`) : undefined;
  const output = createOutputCollector({ onLine: call.onLine, log, captureStdout: req.captureStdout === true });

  const started = performance.now();
  const handle = start();
  let stopReason: 'timeout' | 'cancelled' | 'io' | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  let exited = false;
  const stop = (reason: 'timeout' | 'cancelled' | 'io'): void => {
    // Once the engine has exited on its own, a late timer or abort must not rewrite the outcome.
    if (stopReason || (exited && reason !== 'io')) return;
    stopReason = reason;
    handle.signal('SIGTERM');
    graceTimer = setTimeout(() => handle.signal('SIGKILL'), spec.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  };
  const timeoutMs = spec.timeouts[step];
  const timer = setTimeout(() => stop('timeout'), timeoutMs);
  const onAbort = (): void => stop('cancelled');
  void handle.exited.then(() => (exited = true));
  call.signal?.addEventListener('abort', onAbort, { once: true });

  let ioError: unknown;
  const streams: Array<Promise<unknown>> = [];
  handle.stderr?.on('data', (chunk: Buffer | string) => output.push('stderr', chunk));
  if (handle.stdout && req.stdoutFile) {
    const sink = createWriteStream(req.stdoutFile, { mode: 0o600 });
    streams.push(pipeline(handle.stdout, sink).catch((err: unknown) => {
      ioError = err;
      stop('io');
    }));
  } else {
    handle.stdout?.on('data', (chunk: Buffer | string) => output.push('stdout', chunk));
  }

  const result = await handle.ended;
  await Promise.all(streams);
  const durationMs = Math.round(performance.now() - started);
  clearTimeout(timer);
  clearTimeout(graceTimer);
  call.signal?.removeEventListener('abort', onAbort);
  const { outputTail, stderrTail, stdout } = output.finish();
  await closeLog(log);

  const exitCode = settle({ req, launch: wall.sandboxed, launchFile: wall.launchFile, result, stopReason, ioError, timeoutMs, outputTail, stderrTail });
  return { exitCode, durationMs, stdout, outputTail, stderrTail };
}

/** The engine, or bwrap around it, as one process leading its own group. */
function startCommand(req: RunRequest, launch: SandboxLaunch | null, env: Record<string, string>): StepHandle {
  const child = spawnEngine(req, launch, env);
  let sandbox: StartedSandbox | null = null;
  let sandboxError: unknown;
  function signal(sig: NodeJS.Signals): void {
    if (child.pid === undefined) return;
    // In a sandbox the engine is pid 1 of its own PID namespace: SIGTERM goes to it (terraform stops
    // gracefully); SIGKILL to bwrap's group ends the namespace and everything in it at once.
    const targets = sandbox && sig !== 'SIGKILL' ? [sandbox.enginePid] : [-child.pid, ...(sandbox ? [sandbox.enginePid] : [])];
    for (const target of targets) {
      try {
        process.kill(target, sig);
      } catch {
        // ESRCH: already gone.
      }
    }
  }
  const sandboxUp = launch
    ? launch.start(child).then((s) => (sandbox = s), (err: unknown) => {
        sandboxError = err;
        signal('SIGKILL');
      })
    : Promise.resolve();
  // Stragglers still in the group (a provider's orphan, a daemon forked by a data source) must not
  // outlive the step, least of all holding this phase's credentials or our stdout pipe open.
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    signal('SIGKILL');
    resolve();
  }));
  const ended = (async (): Promise<StepEnd> => {
    const result = await child;
    await sandboxUp;
    (sandbox as StartedSandbox | null)?.stop();
    return { exitCode: result.exitCode, signal: result.signal, code: result.code, shortMessage: result.shortMessage, sandboxError };
  })();
  return { stdout: child.stdout as Readable | null, stderr: child.stderr as Readable | null, exited, ended, signal };
}

/** Start the engine, or bwrap around it, leading its own process group. */
function spawnEngine(req: RunRequest, launch: SandboxLaunch | null, env: Record<string, string>) {
  // Files the engine creates in a shared state dir stay writable by the other phase's user (same group).
  const umask = launch ? process.umask(0o007) : undefined;
  try {
    return execa(launch ? launch.file : req.spec.binary, launch ? launch.args : req.args, {
      cwd: req.call.cwd,
      env,
      extendEnv: false,
      detached: true,
      // A detached child is not killed by execa when the runner exits; an interrupted apply is left
      // to terraform's own signal handling rather than killed mid-write.
      cleanup: false,
      stdio: launch ? (launch.stdio as ['ignore', 'pipe', 'pipe', ...Array<'pipe'>]) : (['ignore', 'pipe', 'pipe'] as const),
      buffer: false,
      reject: false,
    });
  } finally {
    if (umask !== undefined) process.umask(umask);
  }
}

interface Ending {
  req: RunRequest;
  launch: boolean;
  launchFile: string | undefined;
  result: StepEnd;
  stopReason: 'timeout' | 'cancelled' | 'io' | undefined;
  ioError: unknown;
  timeoutMs: number;
  outputTail: string;
  stderrTail: string;
}

/** How a finished engine command ended: its exit code, or the domain error for why it did not finish. */
function settle(e: Ending): number {
  const { req, result, stopReason } = e;
  const { spec, step, call } = req;
  const ctx = { step, outputTail: e.outputTail };
  // The engine never started: what is on stderr is bwrap's or slirp4netns's own message.
  if (result.sandboxError instanceof SandboxStartError) throw new SandboxStartError(`${result.sandboxError.message.replace(/^the engine sandbox did not start: /, '')}: ${e.stderrTail.trim().split('\n').slice(-3).join(' | ')}`, result.sandboxError);
  if (result.sandboxError) throw result.sandboxError;
  if (result.exitCode === undefined && result.signal === undefined && NOT_FOUND.has(result.code ?? '')) {
    if (e.launch) throw new SandboxUnavailableError('bwrap', `\`${e.launchFile}\` could not be started (${result.code})`, result);
    throw new EngineNotFoundError(spec.binary, result);
  }
  if (stopReason === 'timeout') throw new EngineTimeoutError({ ...ctx, timeoutMs: e.timeoutMs });
  // bwrap (and a session's driver) report an engine killed by signal N as exit status 128+N.
  const signal = result.signal ?? (e.launch ? signalFromStatus(result.exitCode) : undefined);
  if (stopReason === 'cancelled') throw new EngineKilledError({ ...ctx, signal, cancelled: true, cause: call.signal?.reason });
  if (stopReason === 'io') throw new EngineOutputError(`could not write engine ${step} output to ${req.stdoutFile}`, e.ioError);
  if (signal !== undefined) throw new EngineKilledError({ ...ctx, signal, cancelled: false });
  if (result.exitCode === undefined) throw new EngineOutputError(`engine ${step} could not be started: ${result.shortMessage}`, result);
  return result.exitCode;
}

async function assertDirectory(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new AirlockError('airlock:engine-cwd', `the engine working directory \`${dir}\` does not exist or is not a directory`, {
      hint: 'The job directory was removed or never exported; re-run the checkout step.',
    });
  }
}

// HOME is private per job; the empty CLI config stops terraform from reading any ~/.terraformrc.
async function prepareHome(homeDir: string, content: string): Promise<void> {
  await mkdir(homeDir, { recursive: true, mode: 0o700 });
  const config = cliConfigPath(homeDir);
  await writeFile(config, content, { mode: 0o600 });
  await chmod(config, 0o600);
}

async function openLog(file: string, header: string): Promise<WriteStream> {
  const handle = await open(file, 'a', 0o600);
  await handle.chmod(0o600);
  const stream = handle.createWriteStream();
  stream.write(header);
  return stream;
}

async function closeLog(log: WriteStream | undefined): Promise<void> {
  if (!log) return;
  await new Promise<void>((resolve) => log.end(() => resolve()));
}
