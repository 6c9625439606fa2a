// Listing the refs of a `file://` remote without starting git: its loose refs, then its packed-refs, read
// straight from the repository directory, which is what `git ls-remote` (through upload-pack) reads too.
// Anything unusual (no such repository, a worktree or gitdir link, the reftable format, a name or file git
// would not take as a ref) answers null, and the caller asks git instead. Read-only, never following a
// symlink inside the repository.
import { constants as fsConstants } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { RemoteHead } from './refs.ts';

const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
// git's own ref-name rules, the parts a directory walk can meet: no `.lock` suffix, no component starting
// with a dot, no control characters, spaces or ~^:?*[\ anywhere.
// eslint-disable-next-line no-control-regex
const BAD_COMPONENT = /^\.|\.lock$|\.\.|[\u0000-\u0020\u007f~^:?*[\\]|@\{/;
const MAX_REF_FILE = 512;
const MAX_PACKED_REFS = 64 * 1024 * 1024;

/** The directory of a `file://` URL, or null for any other URL. */
export function localRepoPath(url: string): string | null {
  if (!url.startsWith('file:///')) return null;
  let p: string;
  try {
    p = decodeURIComponent(new URL(url).pathname);
  } catch {
    return null;
  }
  return path.isAbsolute(p) && !p.includes('\0') ? path.normalize(p) : null;
}

/** A regular file's text (never through a symlink), at most `max` bytes; null when it is missing or is something else. */
async function readPlain(file: string, max: number): Promise<string | null> {
  let handle;
  try {
    handle = await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Unusual(`cannot open ${file}`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new Unusual(`${file} is not a regular file`);
    if (info.size > max) throw new Unusual(`${file} is too large`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

class Unusual extends Error {}

/** The git directory at `dir` (bare, or a work tree's `.git`), when it is laid out as this reader expects. */
async function gitDirOf(dir: string): Promise<string | null> {
  for (const candidate of [dir, path.join(dir, '.git')]) {
    const [head, refs, objects] = await Promise.all(['HEAD', 'refs', 'objects'].map((n) => lstat(path.join(candidate, n)).catch(() => null)));
    if (head?.isFile() && refs?.isDirectory() && objects?.isDirectory()) return candidate;
  }
  return null;
}

async function looseRefs(gitDir: string, rel: string, out: Map<string, string>): Promise<void> {
  for (const entry of await readdir(path.join(gitDir, rel), { withFileTypes: true })) {
    if (BAD_COMPONENT.test(entry.name)) {
      // A ref being written (`x.lock`) is not a ref yet; git skips it the same way.
      if (entry.name.endsWith('.lock')) continue;
      throw new Unusual(`unusual name ${rel}/${entry.name}`);
    }
    const name = `${rel}/${entry.name}`;
    if (entry.isDirectory()) await looseRefs(gitDir, name, out);
    else if (entry.isFile()) {
      const text = await readPlain(path.join(gitDir, name), MAX_REF_FILE);
      if (text !== null) out.set(name, text.trim());
    } else throw new Unusual(`${name} is neither a file nor a directory`);
  }
}

function packedRefs(text: string, out: Map<string, string>): void {
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || line.startsWith('^')) continue;
    const space = line.indexOf(' ');
    const sha = line.slice(0, space);
    const ref = line.slice(space + 1);
    if (space < 0 || !SHA.test(sha) || !ref.startsWith('refs/')) throw new Unusual('unusual packed-refs line');
    if (!out.has(ref)) out.set(ref, sha);
  }
}

/** A loose or packed value to a sha, following `ref: …` a few levels; null for a dangling symref. */
function resolve(value: string, all: Map<string, string>): string | null {
  let v = value;
  for (let depth = 0; depth < 5; depth++) {
    if (SHA.test(v)) return v;
    if (!v.startsWith('ref: ')) throw new Unusual('unusual ref content');
    const next = all.get(v.slice(5));
    if (next === undefined) return null;
    v = next;
  }
  return null;
}

/**
 * The refs of the `file://` remote at `url`, as `git ls-remote` lists them (HEAD first, then by name), or
 * null when this reader does not apply and git must be asked.
 */
export async function readLocalRefs(url: string): Promise<RemoteHead[] | null> {
  const dir = localRepoPath(url);
  if (dir === null) return null;
  try {
    const gitDir = await gitDirOf(dir);
    if (gitDir === null) return null;
    const config = (await readPlain(path.join(gitDir, 'config'), 1024 * 1024)) ?? '';
    // A newer ref storage, refs hidden from fetches, or a worktree sharing another repository's refs: git knows, we do not.
    if (/refstorage|reftable|worktreeconfig|hiderefs/i.test(config) || (await lstat(path.join(gitDir, 'commondir')).catch(() => null))) return null;
    const all = new Map<string, string>();
    // Loose refs first, then packed-refs: a ref `git pack-refs` moves in between is still seen once.
    await looseRefs(gitDir, 'refs', all);
    packedRefs((await readPlain(path.join(gitDir, 'packed-refs'), MAX_PACKED_REFS)) ?? '', all);
    const heads: RemoteHead[] = [];
    for (const [ref, value] of all) {
      const sha = resolve(value, all);
      if (sha !== null) heads.push({ ref, sha });
    }
    heads.sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
    const head = await readPlain(path.join(gitDir, 'HEAD'), MAX_REF_FILE);
    const headSha = head === null ? null : resolve(head.trim(), all);
    return headSha === null ? heads : [{ ref: 'HEAD', sha: headSha }, ...heads];
  } catch (err) {
    if (err instanceof Unusual || (err as NodeJS.ErrnoException).code !== undefined) return null;
    throw err;
  }
}
