// What the sandbox needs to know about this host: where bwrap, slirp4netns and setpriv are, whether
// /bin and friends are symlinks into /usr, and which /etc files exist. Looked up on every launch (a few
// stat calls), so a tool removed from PATH is noticed by the next engine command, not the next restart.
import { access, constants as fsConstants, lstat, readlink } from 'node:fs/promises';
import path from 'node:path';
import { SandboxUnavailableError } from './errors.ts';
import type { HostFacts } from './sandbox.ts';

const ROOT_DIRS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

// Enough for TLS (CA bundles), name resolution (hosts, nsswitch) and the dynamic linker; never
// /etc/ssl/private, shadow, or anything of the runner's.
const ETC_PATHS = [
  '/etc/ssl/certs',
  '/etc/ssl/openssl.cnf',
  '/etc/ca-certificates',
  '/etc/pki/tls/certs',
  '/etc/pki/ca-trust/extracted',
  '/etc/hosts',
  '/etc/nsswitch.conf',
  '/etc/host.conf',
  '/etc/gai.conf',
  '/etc/localtime',
  '/etc/ld.so.cache',
  '/etc/alternatives',
  '/etc/services',
  '/etc/protocols',
];

const exists = (p: string) => lstat(p).then(() => true, () => false);

/** The first executable called `name` on `searchPath`, or null. */
export async function findOnPath(name: string, searchPath = process.env['PATH'] ?? ''): Promise<string | null> {
  for (const dir of searchPath.split(':').filter(Boolean)) {
    const candidate = path.join(dir, name);
    if (await access(candidate, fsConstants.X_OK).then(() => true, () => false)) return candidate;
  }
  return null;
}

/** bwrap's path, or a coded error naming it. */
export async function requireTool(name: 'bwrap' | 'slirp4netns' | 'setpriv'): Promise<string> {
  const found = await findOnPath(name);
  if (!found) throw new SandboxUnavailableError(name, `\`${name}\` is not on the runner's PATH (${process.env['PATH'] ?? ''})`);
  return found;
}

/** The host facts buildBwrapArgs needs. */
export async function readHostFacts(): Promise<HostFacts> {
  const symlinkedRootDirs: Record<string, string> = {};
  const realRootDirs: string[] = [];
  for (const dir of ROOT_DIRS) {
    const info = await lstat(dir).catch(() => null);
    if (info?.isSymbolicLink()) symlinkedRootDirs[dir] = await readlink(dir);
    else if (info?.isDirectory()) realRootDirs.push(dir);
  }
  const etcPaths: string[] = [];
  for (const p of ETC_PATHS) if (await exists(p)) etcPaths.push(p);
  const runnerUid = process.getuid?.() ?? 0;
  return { symlinkedRootDirs, realRootDirs, etcPaths, setpriv: runnerUid === 0 ? await requireTool('setpriv') : null, runnerUid };
}
