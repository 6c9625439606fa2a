// Real git remotes for tests: a bare repository under os.tmpdir(), reached through file://, with commits
// built straight from plumbing (hash-object, mktree, commit-tree, update-ref) so trees are exactly what a
// test asks for — including hostile names, symlinks, gitlinks and entries git's porcelain would refuse.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface Remote {
  dir: string;
  /** file:// URL of the bare repository. */
  url: string;
  cleanup(): Promise<void>;
}

export type FixtureFile = string | Buffer | { symlink: string } | { mode: '100755'; content: string | Buffer };

/** A raw tree entry, for trees the `files` map cannot express (`..`, `.git`, gitlinks, duplicates, odd modes). */
export type RawEntry =
  | { name: string; blob: string | Buffer; mode?: string }
  | { name: string; tree: RawEntry[] }
  | { name: string; gitlink: string };

export interface CommitOptions {
  refs: string[];
  message?: string;
  author?: { name: string; email: string };
}

const IDENTITY = { name: 'Airlock Test', email: 'test@airlock.invalid' };
// Every fixture commit gets a later timestamp, so two identical calls still make two distinct commits.
let clock = 1_700_000_000;

/** Run git with a scrubbed environment (no GIT_* from a surrounding hook) and return stdout. */
export async function git(args: string[], opts: { cwd?: string; input?: string | Buffer; env?: Record<string, string> } = {}): Promise<string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('GIT_')) env[key] = value;
  }
  Object.assign(env, { GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' }, opts.env);
  const child = spawn('git', ['-c', `user.name=${IDENTITY.name}`, '-c', `user.email=${IDENTITY.email}`, ...args], {
    cwd: opts.cwd ?? tmpdir(),
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  child.stdin.on('error', () => {}); // git may exit without reading stdin
  child.stdin.end(opts.input ?? '');
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) {
    throw new Error(`git ${args.join(' ')} exited ${code}: ${Buffer.concat(err).toString('utf8')}`);
  }
  return Buffer.concat(out).toString('utf8');
}

/** A fresh, empty bare repository. */
export async function makeRemote(opts: { objectFormat?: 'sha1' | 'sha256' } = {}): Promise<Remote> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-remote-'));
  const format = opts.objectFormat === 'sha256' ? ['--object-format=sha256'] : [];
  await git(['init', '--bare', '--quiet', ...format, dir]);
  return {
    dir,
    url: pathToFileURL(dir).href,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Make a commit whose tree is exactly `files` and point every ref in `opts.refs` at it. The commit's parent
 * is the first ref's current commit, when there is one, so successive calls look like successive pushes.
 */
export async function pushCommit(remote: Remote, files: Record<string, FixtureFile>, opts: CommitOptions): Promise<string> {
  return pushRawTree(remote, filesToEntries(files), opts);
}

/** Like pushCommit, for a tree given entry by entry. */
export async function pushRawTree(remote: Remote, entries: RawEntry[], opts: CommitOptions): Promise<string> {
  const tree = await writeTree(remote.dir, entries);
  const parent = opts.refs[0] === undefined ? null : await resolveRef(remote, opts.refs[0]);
  const author = opts.author ?? IDENTITY;
  const date = `${clock++} +0000`;
  const sha = (
    await git(['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-m', opts.message ?? 'fixture commit'], {
      cwd: remote.dir,
      env: {
        GIT_DIR: remote.dir,
        GIT_AUTHOR_NAME: author.name,
        GIT_AUTHOR_EMAIL: author.email,
        GIT_AUTHOR_DATE: date,
        GIT_COMMITTER_DATE: date,
      },
    })
  ).trim();
  for (const ref of opts.refs) await setRef(remote, ref, sha);
  return sha;
}

/** Point `ref` at `sha` directly in the bare repository (any name git accepts, however hostile). */
export async function setRef(remote: Remote, ref: string, sha: string): Promise<void> {
  // `git check-ref-format` rules apply: e.g. a name with a space is refused, so it can never reach a runner.
  await git(['update-ref', '--stdin'], { cwd: remote.dir, env: { GIT_DIR: remote.dir }, input: `update ${ref} ${sha}\n` }).catch((err: Error) => {
    throw new Error(`setRef: git refuses to create ${JSON.stringify(ref)}: ${err.message}`);
  });
}

/** Remove `ref` from the bare repository. */
export async function deleteRef(remote: Remote, ref: string): Promise<void> {
  await git(['update-ref', '--stdin'], { cwd: remote.dir, env: { GIT_DIR: remote.dir }, input: `delete ${ref}\n` });
}

/** Make unreachable objects really disappear, as a forge's gc eventually does after a force-push. */
export async function pruneRemote(remote: Remote): Promise<void> {
  const env = { GIT_DIR: remote.dir };
  await git(['reflog', 'expire', '--expire=now', '--all'], { cwd: remote.dir, env });
  await git(['gc', '--prune=now', '--quiet'], { cwd: remote.dir, env });
}

async function resolveRef(remote: Remote, ref: string): Promise<string | null> {
  // Listed rather than named on the command line: fixture refs may look like options.
  const listing = await git(['for-each-ref', '--format=%(refname)%00%(objectname)'], { cwd: remote.dir, env: { GIT_DIR: remote.dir } });
  const line = listing
    .split('\n')
    .map((l) => l.split('\0'))
    .find(([name]) => name === ref);
  return line?.[1] ?? null;
}

async function writeTree(repo: string, entries: RawEntry[]): Promise<string> {
  const env = { GIT_DIR: repo };
  const lines: string[] = [];
  for (const entry of entries) {
    if ('tree' in entry) {
      lines.push(`040000 tree ${await writeTree(repo, entry.tree)}\t${entry.name}`);
    } else if ('gitlink' in entry) {
      lines.push(`160000 commit ${entry.gitlink}\t${entry.name}`);
    } else {
      const blob = (await git(['hash-object', '-w', '--stdin'], { cwd: repo, env, input: entry.blob })).trim();
      lines.push(`${entry.mode ?? '100644'} blob ${blob}\t${entry.name}`);
    }
  }
  const input = lines.map((l) => `${l}\0`).join('');
  return (await git(['mktree', '-z', '--missing'], { cwd: repo, env, input })).trim();
}

function filesToEntries(files: Record<string, FixtureFile>): RawEntry[] {
  const root: RawEntry[] = [];
  for (const [path, file] of Object.entries(files)) {
    const parts = path.split('/');
    let level = root;
    for (const dir of parts.slice(0, -1)) {
      let next = level.find((e) => e.name === dir);
      if (next === undefined) {
        next = { name: dir, tree: [] };
        level.push(next);
      }
      if (!('tree' in next)) throw new Error(`fixture path ${JSON.stringify(path)} runs through a file`);
      level = next.tree;
    }
    const name = parts[parts.length - 1] as string;
    if (level.some((e) => e.name === name)) throw new Error(`fixture path ${JSON.stringify(path)} is given twice`);
    if (typeof file === 'string' || Buffer.isBuffer(file)) level.push({ name, blob: file });
    else if ('symlink' in file) level.push({ name, blob: file.symlink, mode: '120000' });
    else level.push({ name, blob: file.content, mode: file.mode });
  }
  return root;
}
