// Starting one sandboxed command: check every piece first (fail closed, nothing spawned), hand the
// writable directories to the sandbox user, then — once the caller has spawned bwrap with the stdio this
// returns — learn the engine's pid from bwrap's info fd, bring up slirp4netns, and only then let the
// engine start, so it never runs without its network wall in place.
import { readFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { SandboxStartError, SandboxUnavailableError } from './errors.ts';
import { readHostFacts, requireTool } from './host.ts';
import { startSlirp, type RunningNetwork } from './network.ts';
import { giveTo, shareWithGroup } from './ownership.ts';
import { DRIVER_FDS, DRIVER_SHELL, DRIVER_STEPS, driverScript } from './driver.ts';
import {
  buildBwrapArgs,
  COMMAND_FDS,
  dropPrivileges,
  identityFiles,
  resolvConf,
  runsAsHostUser,
  type FdLayout,
  type HostUser,
  type SandboxRequest,
  type SandboxSettings,
} from './sandbox.ts';

export interface SpawnedSandbox {
  stdio: ReadonlyArray<Readable | Writable | null | undefined>;
  once(event: 'exit', listener: () => void): unknown;
}

export interface SandboxLaunch {
  file: string;
  args: string[];
  /**
   * stdio for the spawn. One command: stdin ignored, stdout/stderr piped, then info, block and one pipe per
   * data file. A driver: stdin (its commands), stdout (its answers), stderr, the steps' pairs, then the same.
   */
  stdio: ['ignore' | 'pipe', 'pipe', 'pipe', ...Array<'pipe'>];
  /** The host user the engine runs as, or null when it runs as the runner inside a user namespace. */
  user: HostUser | null;
  /** Feed bwrap, wait for the namespace, start the network, release the engine. */
  start(child: SpawnedSandbox): Promise<StartedSandbox>;
}

export interface StartedSandbox {
  /** The engine's pid as the runner sees it (pid 1 of the sandbox's PID namespace). */
  enginePid: number;
  stop(): void;
}

function checkUser(user: HostUser, runnerUid: number, phase: string): void {
  for (const [what, id] of [['uid', user.uid], ['gid', user.gid]] as const) {
    if (!Number.isInteger(id) || id <= 0 || (what === 'uid' && id === runnerUid)) {
      throw new SandboxUnavailableError('sandbox-user', `engine.sandbox.users gives the ${phase} sandbox ${what} ${id}, which is root or the runner itself`);
    }
  }
}

/** Whether a runner can keep one sandbox for several commands (driver.ts says what makes that safe). */
export interface DriverOptions {
  /** The host path of the exec-only copy of the shell (driver-shell.ts). */
  hostShell: string;
}

/**
 * Check every piece and prepare the directories; throws SandboxUnavailableError before anything runs.
 * With `driver`, the sandbox runs a session's driver (driver.ts) instead of `req.command`.
 */
export async function prepareSandbox(settings: SandboxSettings, req: SandboxRequest, driver?: DriverOptions): Promise<SandboxLaunch> {
  const bwrap = await requireTool('bwrap');
  const slirp = req.network === 'slirp4netns' ? await requireTool('slirp4netns') : null;
  const facts = await readHostFacts();
  const user = runsAsHostUser(facts) ? settings.users[req.phase] : null;
  if (user) {
    checkUser(user, facts.runnerUid, req.phase);
    for (const dir of req.writable) await giveTo(dir, user);
    for (const dir of req.shared) await shareWithGroup(dir, user.gid, facts.runnerUid);
  }
  const identity = user ?? { uid: facts.runnerUid, gid: process.getgid?.() ?? facts.runnerUid };
  const files = { ...identityFiles(identity, req.home), '/etc/resolv.conf': resolvConf(req.network), ...req.files };
  const fds: FdLayout = driver ? DRIVER_FDS : COMMAND_FDS;
  const readOnly = driver ? [...req.readOnly, { source: driver.hostShell, dest: DRIVER_SHELL }] : req.readOnly;
  const full: SandboxRequest = { ...req, files, readOnly };
  const start = driver ? { shell: DRIVER_SHELL, script: driverScript(user ? dropPrivileges(facts.setpriv!, user) : []), fds } : undefined;
  const args = driver ? buildBwrapArgs(full, facts, settings, user, start) : [...buildBwrapArgs(full, facts, settings, user), ...req.command];
  const data = Object.values(files);
  const pipes = (n: number) => Array.from({ length: n }, () => 'pipe' as const);
  const stdio: SandboxLaunch['stdio'] = driver
    ? ['pipe', 'pipe', 'pipe', ...pipes(2 * DRIVER_STEPS), 'pipe', 'pipe', ...pipes(data.length)]
    : ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', ...pipes(data.length)];

  return {
    file: bwrap,
    args,
    stdio,
    user,
    async start(child) {
      // A sandbox that dies during setup closes these early; the exit is reported, not the EPIPE.
      for (const stream of child.stdio.slice(fds.info)) stream?.on('error', () => undefined);
      data.forEach((text, i) => (child.stdio[fds.firstData + i] as Writable).end(text));
      const exited = new Promise<never>((_, reject) => child.once('exit', () => reject(new SandboxStartError('bwrap exited before the sandbox was set up'))));
      exited.catch(() => undefined);
      const pid = await Promise.race([readChildPid(child, fds.info), exited]);
      let network: RunningNetwork | null = null;
      if (slirp) {
        // bwrap configures the namespace's loopback itself; slirp4netns joining while it does makes
        // bwrap misread its netlink reply and abort, so slirp waits until lo is up.
        await Promise.race([waitForLoopback(pid), exited]);
        network = await startSlirp(slirp, pid, user === null);
      }
      (child.stdio[fds.block] as Writable).end('go');
      return { enginePid: pid, stop: () => network?.stop() };
    },
  };
}

/** bwrap writes `{"child-pid": N}` to its info fd once the namespaces exist. */
function readChildPid(child: SpawnedSandbox, fd: number): Promise<number> {
  const info = child.stdio[fd] as Readable;
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      try {
        const pid = (JSON.parse(text) as { 'child-pid'?: unknown })['child-pid'];
        if (typeof pid === 'number') {
          info.off('data', onData);
          resolve(pid);
        }
      } catch {
        // not all of it yet
      }
    };
    info.on('data', onData);
  });
}

const LOOPBACK_WAIT_MS = 5000;

/** Resolve once the namespace of `pid` has lo up (it then appears in /proc/PID/net/igmp). */
async function waitForLoopback(pid: number): Promise<void> {
  const deadline = Date.now() + LOOPBACK_WAIT_MS;
  while (Date.now() < deadline) {
    const igmp = await readFile(`/proc/${pid}/net/igmp`, 'utf8').catch(() => '');
    if (/^\d+\s+lo\s/m.test(igmp)) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new SandboxStartError(`the sandbox's loopback interface did not come up within ${LOOPBACK_WAIT_MS} ms`);
}
