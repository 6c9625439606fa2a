// Running one engine process: the only code that imports execa or reads its result fields.
// The child leads its own process group (detached), so a timeout or cancellation can stop the
// engine together with its providers and anything they started; execa's own `timeout` and
// `cancelSignal` would kill the direct child only.

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

/** Run one engine command to completion; throws only when it could not run or was stopped. */
export async function runEngine(req: RunRequest): Promise<RunResult> {
  const { spec, step, call } = req;
  if (call.signal?.aborted) throw new EngineKilledError({ step, outputTail: '', signal: undefined, cancelled: true, cause: call.signal.reason });
  await assertDirectory(call.cwd);
  // Fail closed: every piece of the sandbox is checked before any process exists.
  if (spec.sandbox) await mkdir(call.homeDir, { recursive: true, mode: 0o700 });
  const launch = spec.sandbox ? await prepareEngineSandbox(spec, req) : null;
  const env = buildEngineEnv(spec, call, launch ? SANDBOX_CLI_CONFIG : undefined);
  if (!launch) await prepareHome(call.homeDir, call.cliConfig ?? '');
  const log = call.logFile ? await openLog(call.logFile, `$ ${spec.kind} ${req.args.join(' ')}\n`) : undefined;
  const output = createOutputCollector({ onLine: call.onLine, log, captureStdout: req.captureStdout === true });

  const started = performance.now();
  const child = spawnEngine(req, launch, env);
  let sandbox: StartedSandbox | null = null;
  let sandboxError: unknown;
  const sandboxUp = launch
    ? launch.start(child).then((s) => (sandbox = s), (err: unknown) => {
        sandboxError = err;
        signalGroup('SIGKILL');
      })
    : Promise.resolve();

  let stopReason: 'timeout' | 'cancelled' | 'io' | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  function signalGroup(signal: NodeJS.Signals): void {
    if (child.pid === undefined) return;
    // In a sandbox the engine is pid 1 of its own PID namespace: SIGTERM goes to it (terraform stops
    // gracefully); SIGKILL to bwrap's group ends the namespace and everything in it at once.
    const targets = sandbox && signal !== 'SIGKILL' ? [sandbox.enginePid] : [-child.pid, ...(sandbox ? [sandbox.enginePid] : [])];
    for (const target of targets) {
      try {
        process.kill(target, signal);
      } catch {
        // ESRCH: already gone.
      }
    }
  }
  let exited = false;
  const stop = (reason: 'timeout' | 'cancelled' | 'io'): void => {
    // Once the engine has exited on its own, a late timer or abort must not rewrite the outcome.
    if (stopReason || (exited && reason !== 'io')) return;
    stopReason = reason;
    signalGroup('SIGTERM');
    graceTimer = setTimeout(() => signalGroup('SIGKILL'), spec.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  };
  const timeoutMs = spec.timeouts[step];
  const timer = setTimeout(() => stop('timeout'), timeoutMs);
  const onAbort = (): void => stop('cancelled');
  // Stragglers still in the group (a provider's orphan, a daemon forked by a data source) must not
  // outlive the step, least of all holding this phase's credentials or our stdout pipe open.
  child.on('exit', () => {
    exited = true;
    signalGroup('SIGKILL');
  });
  call.signal?.addEventListener('abort', onAbort, { once: true });

  let ioError: unknown;
  const streams: Array<Promise<unknown>> = [];
  child.stderr?.on('data', (chunk: Buffer | string) => output.push('stderr', chunk));
  if (child.stdout && req.stdoutFile) {
    const sink = createWriteStream(req.stdoutFile, { mode: 0o600 });
    streams.push(pipeline(child.stdout as Readable, sink).catch((err: unknown) => {
      ioError = err;
      stop('io');
    }));
  } else {
    child.stdout?.on('data', (chunk: Buffer | string) => output.push('stdout', chunk));
  }

  const result = await child;
  await sandboxUp;
  (sandbox as StartedSandbox | null)?.stop();
  await Promise.all(streams);
  const durationMs = Math.round(performance.now() - started);
  clearTimeout(timer);
  clearTimeout(graceTimer);
  call.signal?.removeEventListener('abort', onAbort);
  const { outputTail, stderrTail, stdout } = output.finish();
  await closeLog(log);

  const exitCode = settle({ req, launch: launch !== null, launchFile: launch?.file, result, stopReason, sandboxError, ioError, timeoutMs, outputTail, stderrTail });
  return { exitCode, durationMs, stdout, outputTail, stderrTail };
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
      stdio: launch ? launch.stdio : (['ignore', 'pipe', 'pipe'] as const),
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
  result: { exitCode?: number; signal?: string; code?: string; shortMessage?: string };
  stopReason: 'timeout' | 'cancelled' | 'io' | undefined;
  sandboxError: unknown;
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
  if (e.sandboxError instanceof SandboxStartError) throw new SandboxStartError(`${e.sandboxError.message.replace(/^the engine sandbox did not start: /, '')}: ${e.stderrTail.trim().split('\n').slice(-3).join(' | ')}`, e.sandboxError);
  if (e.sandboxError) throw e.sandboxError;
  if (result.exitCode === undefined && result.signal === undefined && NOT_FOUND.has(result.code ?? '')) {
    if (e.launch) throw new SandboxUnavailableError('bwrap', `\`${e.launchFile}\` could not be started (${result.code})`, result);
    throw new EngineNotFoundError(spec.binary, result);
  }
  if (stopReason === 'timeout') throw new EngineTimeoutError({ ...ctx, timeoutMs: e.timeoutMs });
  // bwrap reports an engine killed by signal N as exit status 128+N.
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
