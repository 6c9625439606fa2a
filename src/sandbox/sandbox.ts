// The sandbox domain: the wall around every engine process. bubblewrap gives each engine command its own
// mount, PID, IPC, UTS and network namespaces; it sees only the directories its phase needs, the system's
// /usr, CA and resolver files, and the runner's read-only provider mirror. This file holds the types and
// the pure rules (the bwrap command line, the files written into the sandbox); launch.ts starts it,
// network.ts wires slirp4netns, ownership.ts hands directories to the sandbox user, errors.ts the codes.
import path from 'node:path';

export type SandboxPhase = 'plan' | 'apply' | 'mirror';
export type NetworkMode = 'slirp4netns' | 'none';

/** A host uid/gid the engine runs as when the runner is root. */
export interface HostUser {
  uid: number;
  gid: number;
}

/** The runner's sandbox settings (engine.sandbox in the config, resolved). */
export interface SandboxSettings {
  network: NetworkMode;
  /** Extra host paths every sandbox sees read-only, at the same path (engine.sandbox.readOnlyPaths). */
  readOnlyPaths: string[];
  /** Used only when the runner runs as root: the engine then runs as these host users, never as root. */
  users: Record<SandboxPhase, HostUser>;
  /** The runner-owned provider mirror, read-only in plan and apply sandboxes; absent: no mirror. */
  providerMirror?: string;
  /** false: every command gets a sandbox of its own, even a job's plan steps (driver.ts); default true. */
  sessions?: boolean;
}

export interface Mount {
  source: string;
  dest: string;
}

/** One engine command's view of the host. */
export interface SandboxRequest {
  phase: SandboxPhase;
  network: NetworkMode;
  cwd: string;
  /** HOME inside the sandbox (one of the writable directories). */
  home: string;
  /** Directories bound read-write at their own path (the job's tree and HOME). */
  writable: string[];
  /** Directories shared by the plan and apply users, bound read-write (a local backend's state dir). */
  shared: string[];
  /** Files or directories bound read-only (the approved plan file, the provider mirror). */
  readOnly: Mount[];
  /** Files the runner writes into the sandbox, read-only: path inside → content. */
  files: Record<string, string>;
  /** The engine binary and its arguments. */
  command: string[];
}

/** What is true of this host, discovered once (launch.ts); the pure rules take it as input. */
export interface HostFacts {
  /** Merged-/usr hosts have /bin etc. as symlinks into /usr. */
  symlinkedRootDirs: Record<string, string>;
  /** Top-level directories to bind when they are real directories (non-merged-/usr hosts). */
  realRootDirs: string[];
  /** /etc files and directories that exist and are safe to show (CA bundles, hosts, nsswitch). */
  etcPaths: string[];
  /** Absolute path of setpriv, used to drop to the sandbox user when the runner is root. */
  setpriv: string | null;
  /** The runner's own uid. */
  runnerUid: number;
}

/** The CLI config file's path inside every sandbox (TF_CLI_CONFIG_FILE points here). */
export const SANDBOX_CLI_CONFIG = '/etc/airlock-engine/cli.tfrc';
/** slirp4netns's built-in DNS forwarder, as the sandbox sees it. */
export const SLIRP_DNS = '10.0.2.3';
export const INFO_FD = 3;
export const BLOCK_FD = 4;
/** The first fd carrying a runner-written file (--ro-bind-data); one per file, in request order. */
export const FIRST_DATA_FD = 5;

/** Which of bwrap's fds carry what: one command's layout, or a session driver's (driver.ts keeps 3–8 for steps). */
export interface FdLayout {
  info: number;
  block: number;
  firstData: number;
}
export const COMMAND_FDS: FdLayout = { info: INFO_FD, block: BLOCK_FD, firstData: FIRST_DATA_FD };

/** A session's driver in place of one engine command: the shell to run and its script (driver.ts). */
export interface DriverStart {
  /** The shell's path inside the sandbox. */
  shell: string;
  script: string;
  fds: FdLayout;
}

/** Pure: whether the engine runs as a dedicated host user (the runner is root) or as the runner (userns). */
export function runsAsHostUser(facts: Pick<HostFacts, 'runnerUid'>): boolean {
  return facts.runnerUid === 0;
}

/** Pure: /etc/resolv.conf inside the sandbox (slirp4netns answers DNS itself; no network, no resolver). */
export function resolvConf(network: NetworkMode): string {
  return network === 'slirp4netns' ? `nameserver ${SLIRP_DNS}\n` : '';
}

/** Pure: /etc/passwd and /etc/group inside the sandbox, so tools that look the user up find it. */
export function identityFiles(user: HostUser, home: string): Record<string, string> {
  return {
    '/etc/passwd': `root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nairlock-engine:x:${user.uid}:${user.gid}:Airlock engine:${home}:/usr/sbin/nologin\n`,
    '/etc/group': `root:x:0:\nairlock-engine:x:${user.gid}:\n`,
  };
}

function ancestors(p: string): string[] {
  const out: string[] = [];
  for (let dir = path.dirname(p); dir !== '/' && dir !== '.'; dir = path.dirname(dir)) out.unshift(dir);
  return out;
}

// Mounted before any directory is made: never re-created or re-moded.
const FIXED = ['/usr', '/proc', '/dev'];

const isUnder = (p: string, dir: string): boolean => p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/**
 * Pure: the directories bwrap must create (0755) so that every mount point's ancestors exist and can be
 * traversed by the sandbox user. Ancestors inside a bound host directory are left alone: creating them
 * would write to the host.
 */
export function mountPointDirs(dests: string[], binds: string[]): string[] {
  const dirs = new Set<string>();
  for (const dest of dests) {
    for (const dir of ancestors(dest)) if (dir !== '/tmp' && !FIXED.some((f) => isUnder(dir, f)) && !binds.some((b) => isUnder(dir, b))) dirs.add(dir);
  }
  return [...dirs].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
}

/** Pure: setpriv's arguments that drop to the sandbox user with no capabilities (a root runner's engine). */
export function dropPrivileges(setpriv: string, user: HostUser): string[] {
  return [setpriv, `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--'];
}

/**
 * Pure: the bwrap argument vector for one request (everything before the engine's own argv). `user` is the
 * host user to drop to when the runner is root; without it bwrap makes an unprivileged user namespace.
 * With `driver`, the sandbox runs a session's driver instead, which drops privileges for each command.
 */
export function buildBwrapArgs(req: SandboxRequest, facts: HostFacts, settings: Pick<SandboxSettings, 'readOnlyPaths'>, user: HostUser | null, driver?: DriverStart): string[] {
  const fds = driver?.fds ?? COMMAND_FDS;
  const args = ['--die-with-parent', '--new-session', '--as-pid-1', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-net', '--unshare-cgroup-try', '--hostname', 'airlock-engine'];
  if (user) {
    // Root runner: bwrap stays privileged to mount, and setpriv drops to the sandbox user before the engine starts.
    args.push('--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID', '--cap-add', 'CAP_SETPCAP');
    // A driver (root inside, no other capability) must end the sandbox user's processes after each command.
    if (driver) args.push('--cap-add', 'CAP_KILL');
  } else {
    args.push('--unshare-user', '--disable-userns');
  }
  args.push('--ro-bind', '/usr', '/usr');
  for (const [link, target] of Object.entries(facts.symlinkedRootDirs)) args.push('--symlink', target, link);
  for (const dir of facts.realRootDirs) args.push('--ro-bind', dir, dir);
  args.push('--proc', '/proc', '--dev', '/dev', '--perms', '1777', '--tmpfs', '/tmp');

  const roExtras = [...facts.etcPaths, ...settings.readOnlyPaths].map((p) => ({ source: p, dest: p }));
  const rw = [...req.writable, ...req.shared];
  const binds = [...rw, ...roExtras.map((m) => m.dest), ...req.readOnly.map((m) => m.dest)];
  const fileDests = Object.keys(req.files);
  for (const dir of mountPointDirs([...binds, ...fileDests, req.cwd], binds)) args.push('--perms', '0755', '--dir', dir);
  // Shallow mounts first, so a deeper one (the mirror inside the apply dir) lands on top.
  const depth = (p: string) => p.split('/').length;
  const mounts = [
    ...rw.map((p) => ['--bind', p, p]),
    ...roExtras.map((m) => ['--ro-bind', m.source, m.dest]),
    ...req.readOnly.map((m) => ['--ro-bind', m.source, m.dest]),
  ].sort((a, b) => depth(a[2]!) - depth(b[2]!));
  for (const m of mounts) args.push(...m);
  fileDests.forEach((dest, i) => args.push('--perms', '0444', '--ro-bind-data', String(fds.firstData + i), dest));
  args.push('--chdir', req.cwd, '--info-fd', String(fds.info));
  if (req.network === 'slirp4netns') args.push('--block-fd', String(fds.block));
  args.push('--');
  if (user && !facts.setpriv) throw new Error('setpriv is required to drop privileges');
  if (driver) {
    args.push(driver.shell, '-c', driver.script, 'airlock-driver');
    return args;
  }
  if (user) args.push(...dropPrivileges(facts.setpriv!, user));
  // bwrap sets PWD after --chdir; the engine's environment is the runner's allowlist and nothing else.
  args.push('/usr/bin/env', '-u', 'PWD', '--');
  return args;
}

/** Pure: the engine binary's own read-only bind when it lives outside /usr (e.g. /opt/terraform/terraform). */
export function engineBinaryBinds(binary: string): string[] {
  return isUnder(binary, '/usr') ? [] : [binary];
}
