// Running one engine process: the only code that imports execa or reads its result fields.
// The child leads its own process group (detached), so a timeout or cancellation can stop the
// engine together with its providers and anything they started; execa's own `timeout` and
// `cancelSignal` would kill the direct child only.

import { execa } from 'execa';
import { chmod, mkdir, open, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import { createWriteStream, type WriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { AirlockError } from '../errors.ts';
import type { EngineCall, EngineSpec, EngineStep } from './engine.ts';
import { DEFAULT_KILL_GRACE_MS } from './engine-rules.ts';
import { buildEngineEnv, cliConfigPath } from './engine-env.ts';
import { EngineKilledError, EngineNotFoundError, EngineOutputError, EngineTimeoutError } from './errors.ts';
import { createOutputCollector } from './output-collector.ts';
import { prepareSandbox, type SandboxLaunch, type StartedSandbox } from '../sandbox/launch.ts';
import { SandboxStartError, SandboxUnavailableError } from '../sandbox/errors.ts';
import { ensureMirrorDir, mirrorCliConfig } from '../sandbox/provider-mirror.ts';
import { SANDBOX_CLI_CONFIG, engineBinaryBinds } from '../sandbox/sandbox.ts';

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
  // Files the engine creates in a shared state dir stay writable by the other phase's user (same group).
  const umask = launch ? process.umask(0o007) : undefined;
  const child = execa(launch ? launch.file : spec.binary, launch ? launch.args : req.args, {
    cwd: call.cwd,
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
  if (umask !== undefined) process.umask(umask);
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

  const ctx = { step, outputTail };
  // The engine never started: what is on stderr is bwrap's or slirp4netns's own message.
  if (sandboxError instanceof SandboxStartError) throw new SandboxStartError(`${sandboxError.message.replace(/^the engine sandbox did not start: /, '')}: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}`, sandboxError);
  if (sandboxError) throw sandboxError;
  if (result.exitCode === undefined && result.signal === undefined && NOT_FOUND.has(result.code ?? '')) {
    if (launch) throw new SandboxUnavailableError('bwrap', `\`${launch.file}\` could not be started (${result.code})`, result);
    throw new EngineNotFoundError(spec.binary, result);
  }
  if (stopReason === 'timeout') throw new EngineTimeoutError({ ...ctx, timeoutMs });
  // bwrap reports an engine killed by signal N as exit status 128+N.
  const signal = result.signal ?? (launch ? signalFromStatus(result.exitCode) : undefined);
  if (stopReason === 'cancelled') throw new EngineKilledError({ ...ctx, signal, cancelled: true, cause: call.signal?.reason });
  if (stopReason === 'io') throw new EngineOutputError(`could not write engine ${step} output to ${req.stdoutFile}`, ioError);
  if (signal !== undefined) throw new EngineKilledError({ ...ctx, signal, cancelled: false });
  if (result.exitCode === undefined) throw new EngineOutputError(`engine ${step} could not be started: ${result.shortMessage}`, result);
  return { exitCode: result.exitCode, durationMs, stdout, outputTail, stderrTail };
}

function signalFromStatus(status: number | undefined): string | undefined {
  if (status === undefined || status <= 128) return undefined;
  return Object.entries(osConstants.signals).find(([, n]) => n === status - 128)?.[0];
}

/** The sandbox for one engine command: the phase's directories, the mirror, the CLI config. */
async function prepareEngineSandbox(spec: EngineSpec, req: RunRequest): Promise<SandboxLaunch> {
  const settings = spec.sandbox!;
  const { call } = req;
  const mirror = settings.providerMirror;
  if (mirror) await ensureMirrorDir(mirror);
  const phase = call.phase ?? 'plan';
  // An apply from a saved plan loads providers from `.terraform/providers` in its working directory:
  // there it sees the mirror itself, never anything a plan sandbox installed.
  const applyProviders = phase === 'apply' && mirror ? [{ source: mirror, dest: join(call.cwd, '.terraform', 'providers') }] : [];
  return prepareSandbox(settings, {
    phase,
    network: call.network ?? settings.network,
    cwd: call.cwd,
    home: call.homeDir,
    writable: call.writable ?? [call.cwd, call.homeDir],
    shared: call.shared ?? [],
    readOnly: [
      ...engineBinaryBinds(spec.binary).map((p) => ({ source: p, dest: p })),
      // The fill step writes the mirror; everyone else sees it read-only.
      ...(mirror && phase !== 'mirror' ? [{ source: mirror, dest: mirror }] : []),
      ...applyProviders,
      ...(call.readOnly ?? []),
    ],
    files: { [SANDBOX_CLI_CONFIG]: call.cliConfig ?? (mirror ? mirrorCliConfig(mirror) : '') },
    command: [spec.binary, ...req.args],
  });
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
