// What the sandbox needs to know about this host: where bwrap, slirp4netns and setpriv are, whether
// /bin and friends are symlinks into /usr, and which /etc files exist. Remembered per value of PATH, so a
// changed PATH is looked at again; a tool deleted under an unchanged PATH makes the spawn itself fail,
// which the engine adapter reports as the same missing piece (nothing runs either way).
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

const toolCache = new Map<string, string>();

/** bwrap's path, or a coded error naming it. */
export async function requireTool(name: 'bwrap' | 'slirp4netns' | 'setpriv'): Promise<string> {
  const key = `${name}\0${process.env['PATH'] ?? ''}`;
  const cached = toolCache.get(key);
  if (cached) return cached;
  const found = await findOnPath(name);
  if (!found) throw new SandboxUnavailableError(name, `\`${name}\` is not on the runner's PATH (${process.env['PATH'] ?? ''})`);
  toolCache.set(key, found);
  return found;
}

let factsCache: { path: string; facts: Promise<HostFacts> } | null = null;

/** The host facts buildBwrapArgs needs. */
export function readHostFacts(): Promise<HostFacts> {
  const current = process.env['PATH'] ?? '';
  if (factsCache?.path !== current) {
    const facts = lookUpHostFacts();
    factsCache = { path: current, facts };
    facts.catch(() => (factsCache = null));
  }
  return factsCache.facts;
}

async function lookUpHostFacts(): Promise<HostFacts> {
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
