// One sandbox for a job's engine steps: the first step starts bwrap (and slirp4netns) with a driver
// (sandbox/driver.ts) in place of the engine, and each step is one line to that driver, watched by the same
// superviseStep as a command in a sandbox of its own. A step the driver cannot take (a fourth one, a
// variable name the shell cannot export, another working directory or set of binds, a host where the
// driver would be traceable) runs in a sandbox of its own, exactly as without a session.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm, stat } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import type { EngineCall, EngineSpec } from './engine.ts';
import { buildEngineEnv } from './engine-env.ts';
import { prepareSessionSandbox } from './engine-sandbox.ts';
import { checkStepStart, runEngine, superviseStep, type RunRequest, type RunResult, type StepEnd, type StepHandle } from './run-engine.ts';
import { DRIVER_STEPS, driverLine, isExportableName, parseDriverReply, stepFds, type DriverReply } from '../sandbox/driver.ts';
import { driverShell } from '../sandbox/driver-shell.ts';
import { SandboxStartError, SandboxUnavailableError } from '../sandbox/errors.ts';
import type { SandboxLaunch, StartedSandbox } from '../sandbox/launch.ts';
import { createPlaceholder } from '../sandbox/runner-files.ts';
import { SANDBOX_CLI_CONFIG, type Mount } from '../sandbox/sandbox.ts';

const READY_TIMEOUT_MS = 10_000;
const CLOSE_WAIT_MS = 2_000;

/** Set once a driver turned out traceable by the engine's uid on this host: every later session falls back. */
let traceableDriver = false;

interface Driver {
  child: ChildProcess;
  launch: SandboxLaunch;
  sandbox: StartedSandbox;
  /** The driver's pid on the host (pid 1 of the sandbox). */
  pid: number;
  exit: Promise<StepEnd>;
  dead: boolean;
  next(): Promise<DriverReply | null>;
  kill(): void;
}

export interface DriverSession {
  /** Run one step: in the session's sandbox when it can take it, else in a sandbox of its own. */
  run(req: RunRequest): Promise<RunResult>;
  close(): Promise<void>;
  /** How many steps ran in the session's sandbox (the rest ran in sandboxes of their own). */
  readonly steps: number;
}

/** What must be equal for two calls to share a sandbox. */
function wallKey(call: EngineCall, readOnly: Mount[]): string {
  return JSON.stringify([call.cwd, call.homeDir, call.phase ?? 'plan', call.writable ?? null, call.shared ?? [], readOnly, call.network ?? null, call.cliConfig ?? null]);
}

/** `readOnly` with `extra` added unless it is there already. */
function withMount(readOnly: Mount[] | undefined, extra: Mount): Mount[] {
  const list = readOnly ?? [];
  return list.some((m) => m.source === extra.source && m.dest === extra.dest) ? list : [...list, extra];
}

/** A session for `spec` (sandboxed). `planFile`: the runner's plan copy, bound read-only from the start for `show`. */
export function createDriverSession(spec: EngineSpec, opts: { planFile: string }): DriverSession {
  const planBind = { source: opts.planFile, dest: opts.planFile };
  let driver: Promise<Driver | null> | null = null;
  let key: string | null = null;
  let nextStep = 1;
  let busy = false;
  let closed = false;
  let steps = 0;

  async function run(req: RunRequest): Promise<RunResult> {
    if (closed) throw new Error('engine session used after close');
    const readOnly = withMount(req.call.readOnly, planBind);
    const stepKey = wallKey(req.call, readOnly);
    key ??= stepKey;
    if (busy || nextStep > DRIVER_STEPS || stepKey !== key || traceableDriver) return runEngine(req);
    await checkStepStart(req);
    const env = buildEngineEnv(spec, req.call, SANDBOX_CLI_CONFIG);
    if (!Object.keys(env).every(isExportableName)) return runEngine(req);
    busy = true;
    try {
      driver ??= startDriver(spec, { ...req.call, readOnly }, opts.planFile);
      const d = await driver;
      if (!d || d.dead) return runEngine(req);
      const step = nextStep++;
      steps++;
      return await superviseStep(req, { sandboxed: true, launchFile: d.launch.file }, () => startStep(d, step, env, [spec.binary, ...req.args]));
    } finally {
      busy = false;
    }
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    const d = await driver?.catch(() => null);
    if (d && !d.dead) {
      (d.child.stdin as Writable).end();
      const timer = setTimeout(() => d.kill(), CLOSE_WAIT_MS);
      await d.exit;
      clearTimeout(timer);
    }
    d?.kill();
    // A placeholder the plan never filled is not a plan file.
    if (driver && (await stat(opts.planFile).catch(() => null))?.size === 0) await rm(opts.planFile, { force: true });
  }

  return { run, close, get steps() { return steps; } };
}

/** Hand step `step` to the driver; its stdout and stderr are the step's own pair of bwrap's fds. */
function startStep(d: Driver, step: number, env: Record<string, string>, argv: string[]): StepHandle {
  const { out, err } = stepFds(step);
  const stdout = d.child.stdio[out] as Readable;
  const stderr = d.child.stdio[err] as Readable;
  (d.child.stdin as Writable).write(driverLine(step, env, argv));
  const reply = (async (): Promise<StepEnd> => {
    for (;;) {
      const r = await d.next();
      if (r === null) return d.exit;
      if (r.kind === 'exited' && r.step === step) return { exitCode: r.status };
    }
  })();
  const closed = (s: Readable) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
  const ended = reply.then(async (end) => {
    // The driver has killed every other process: once the pair is closed, the output is complete.
    await Promise.all([closed(stdout), closed(stderr)]);
    return end;
  });
  return {
    stdout,
    stderr,
    exited: reply.then(() => undefined),
    ended,
    // The driver forwards SIGTERM to the step; SIGKILL ends the whole sandbox, and with it the session.
    signal: (sig) => (sig === 'SIGKILL' ? d.kill() : signalPid(d.pid, 'SIGTERM')),
  };
}

function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // ESRCH: already gone.
  }
}

/** Start bwrap with the driver; null when the driver would be traceable here (then nothing is left running). */
async function startDriver(spec: EngineSpec, call: EngineCall, planFile: string): Promise<Driver | null> {
  await mkdir(call.homeDir, { recursive: true, mode: 0o700 });
  await createPlaceholder(planFile, spec.sandbox);
  const launch = await prepareSessionSandbox(spec, call, await driverShell());
  // As for one command: files the engine creates in a shared state dir stay writable by the other phase's user.
  const umask = process.umask(0o007);
  let child: ChildProcess;
  try {
    child = spawn(launch.file, launch.args, { cwd: call.cwd, env: {}, stdio: launch.stdio, detached: true });
  } finally {
    process.umask(umask);
  }
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4096)));
  const spawnError = new Promise<never>((_, reject) => child.once('error', (e: NodeJS.ErrnoException) => reject(new SandboxUnavailableError('bwrap', `\`${launch.file}\` could not be started (${e.code})`, e))));
  spawnError.catch(() => undefined);
  const d = makeDriver(child, launch);
  try {
    d.sandbox = await Promise.race([launch.start(child), spawnError]);
    d.pid = d.sandbox.enginePid;
    const ready = await Promise.race([d.next(), new Promise<'late'>((r) => setTimeout(() => r('late'), READY_TIMEOUT_MS).unref())]);
    if (ready === 'late' || ready?.kind !== 'ready') throw new SandboxStartError(ready === 'late' ? `the session driver did not start within ${READY_TIMEOUT_MS} ms` : 'the session driver exited before it was ready');
  } catch (err) {
    d.kill();
    await d.exit;
    if (err instanceof SandboxStartError) throw new SandboxStartError(`${err.message.replace(/^the engine sandbox did not start: /, '')}: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}`, err);
    throw err;
  }
  if (await traceableBy(d.pid, launch.user?.uid ?? process.getuid?.() ?? 0)) {
    traceableDriver = true;
    d.kill();
    await d.exit;
    return null;
  }
  return d;
}

/**
 * Whether a process of `uid` could trace process `pid` (or open its /proc fds and memory). A process that
 * is not dumpable has its /proc files owned by root; otherwise they belong to its own uid. Unknown: yes.
 */
export async function traceableBy(pid: number, uid: number): Promise<boolean> {
  const owner = (await stat(`/proc/${pid}/environ`).catch(() => null))?.uid;
  return owner === undefined || owner === uid;
}

function makeDriver(child: ChildProcess, launch: SandboxLaunch): Driver {
  const lines: string[] = [];
  const waiting: Array<(line: string | null) => void> = [];
  let buffered = '';
  let ended = false;
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      const w = waiting.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  // Every answer the driver wrote is read before anyone hears that it is gone.
  child.stdout?.once('close', () => {
    ended = true;
    for (const w of waiting.splice(0)) w(null);
  });
  for (const stream of child.stdio) (stream as Readable | Writable | null)?.on('error', () => undefined);
  const nextLine = (): Promise<string | null> => {
    const line = lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (ended) return Promise.resolve(null);
    return new Promise((resolve) => waiting.push(resolve));
  };
  const d: Driver = {
    child,
    launch,
    sandbox: { enginePid: 0, stop: () => undefined },
    pid: 0,
    dead: false,
    exit: new Promise<StepEnd>((resolve) => {
      child.once('exit', (code, signal) => resolve({ exitCode: code ?? undefined, signal: signal ?? undefined }));
      child.once('error', (e: NodeJS.ErrnoException) => resolve({ code: e.code, shortMessage: e.message }));
    }).finally(() => {
      d.dead = true;
    }),
    async next() {
      for (;;) {
        const line = await nextLine();
        if (line === null) return null;
        const reply = parseDriverReply(line);
        if (reply) return reply;
      }
    },
    kill() {
      if (child.pid !== undefined) signalPid(-child.pid, 'SIGKILL');
      if (d.pid) signalPid(d.pid, 'SIGKILL');
      d.sandbox.stop();
    },
  };
  return d;
}
