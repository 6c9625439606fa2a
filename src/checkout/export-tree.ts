// Export one commit's tree from the mirror into a fresh job directory. The tree is listed and judged
// before anything is written; blobs are then read raw through one `git cat-file --batch` session (which
// also answered for the commit: its type, tree and author) and written by us, so git never applies
// filters, smudge, attributes, hooks or LFS to the pull request's content. Two git processes in all:
// that session and `ls-tree`.

import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, rm } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import {
  findTreeViolation,
  isExecutableMode,
  isObjectId,
  parseCommitIdentity,
  parseLsTree,
  showPath,
  type CheckoutLimits,
  type CommitIdentity,
  type TreeEntry,
} from './checkout.ts';
import { CatFileError, openCatFile, type CatFile } from './cat-file.ts';
import { BadShaError, CheckoutFailedError, CheckoutRefusedError } from './errors.ts';
import { describeGitFailure, runGit, type GitCommand, type GitOutcome } from './git-command.ts';
import { assertMirror } from './mirror.ts';

export interface ExportResult {
  treeId: string;
  files: number;
  bytes: number;
  /** The commit's author and committer, read from the same session; an Error when its headers have none. */
  identity: CommitIdentity | Error;
}

/** Enough of a commit object for its headers (tree, parents, author, committer); the message is not needed. */
const COMMIT_BYTES_KEPT = 1 << 20;

/** Generous room per listing record beyond its path: mode, type, id, size and separators. */
const LS_TREE_RECORD_OVERHEAD = 128;
const NEW_FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Write the tree of commit `sha` into `destDir` (missing or empty), refusing unsafe or oversized trees. */
export async function exportCommit(
  mirrorDir: string,
  sha: string,
  destDir: string,
  limits: CheckoutLimits,
): Promise<ExportResult> {
  if (!isObjectId(sha)) throw new BadShaError(sha);
  const mirror = resolve(mirrorDir);
  const dest = resolve(destDir);
  const deadline = Date.now() + limits.timeoutMs;
  const git = (command: Omit<GitCommand, 'cwd' | 'gitDir' | 'timeoutMs'>) =>
    runGit({ ...command, cwd: mirror, gitDir: mirror, timeoutMs: Math.max(1, deadline - Date.now()) });

  const destExists = await inspectDestination(dest);
  await assertMirror(mirror);

  const cat = openCatFile(mirror, deadline);
  let read: { treeId: string; identity: CommitIdentity | Error; entries: TreeEntry[]; blobs: TreeEntry[]; contents: Map<string, Buffer> };
  try {
    read = await readCommit(cat, git, mirror, sha, limits);
  } catch (err) {
    if (err instanceof CatFileError) throw new CheckoutFailedError(`reading ${sha} from the mirror ${err.timedOut ? 'timed out' : `failed: ${err.message}`}`, { cause: err });
    throw err;
  } finally {
    cat.close();
  }
  const { treeId, identity, entries, blobs, contents } = read;

  if (!destExists) await mkdir(dest, { recursive: true, mode: 0o700 });
  await chmod(dest, 0o700);
  let bytes = 0;
  try {
    for (const entry of entries) {
      const target = join(dest, ...entry.path.split('/'));
      // findTreeViolation already refused `..` and friends; this only guards against a future bug there.
      if (!target.startsWith(dest + sep)) throw new CheckoutFailedError(`refusing to write outside the export: ${showPath(entry.path)}`);
      if (entry.type === 'tree') {
        await mkdir(target, { mode: 0o700 });
        await chmod(target, 0o700);
        continue;
      }
      const content = contents.get(entry.sha);
      if (content === undefined) throw new CheckoutFailedError(`blob ${entry.sha} for ${showPath(entry.path)} was not read`);
      await writeNewFile(target, content, isExecutableMode(entry.mode) ? 0o700 : 0o600);
      bytes += content.length;
    }
  } catch (err) {
    await emptyDestination(dest, destExists);
    if (err instanceof CheckoutFailedError) throw err;
    throw new CheckoutFailedError(`writing the export of ${sha} into ${JSON.stringify(dest)} failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return { treeId, files: blobs.length, bytes, identity };
}

/** The commit's type, tree and identity, its tree listed and judged, then its blobs: all before anything is written. */
async function readCommit(cat: CatFile, git: RunInMirror, mirror: string, sha: string, limits: CheckoutLimits) {
  const commit = await cat.read(sha, COMMIT_BYTES_KEPT);
  if (commit === null) {
    throw new CheckoutFailedError(`commit ${sha} is not in the mirror ${JSON.stringify(mirror)}`, {
      hint: 'Fetch the commit with fetchCommit first.',
    });
  }
  if (commit.type !== 'commit') throw new BadShaError(sha, `names a ${commit.type}, not a commit`);
  const text = commit.content.toString('utf8');
  // A commit object's first header names its tree.
  const treeId = /^tree ([0-9a-f]+)\n/.exec(text)?.[1] ?? '';
  if (!isObjectId(treeId)) throw new CheckoutFailedError(`commit ${sha} in the mirror names no readable tree`);
  let identity: CommitIdentity | Error;
  try {
    identity = parseCommitIdentity(sha, text);
  } catch (err) {
    identity = err as Error;
  }

  const listed = await listTree(git, treeId, limits);
  const violation = findTreeViolation(listed, limits);
  if (violation !== null) throw new CheckoutRefusedError(violation.rule, violation.path, violation.message);
  // Allowed submodules are exported without their contents: a gitlink names a commit in another repository.
  const entries = listed.filter((e) => e.type !== 'commit');
  const blobs = entries.filter((e) => e.type === 'blob');
  return { treeId, identity, entries, blobs, contents: await readBlobs(cat, blobs) };
}

/** True when `dest` exists (and is an empty directory); false when it is missing. Throws otherwise. */
async function inspectDestination(dest: string): Promise<boolean> {
  const stat = await lstat(dest).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw new CheckoutFailedError(`cannot inspect export directory ${JSON.stringify(dest)}: ${err.message}`, { cause: err });
  });
  if (stat === null) return false;
  if (!stat.isDirectory()) {
    throw new CheckoutFailedError(`export directory ${JSON.stringify(dest)} exists and is not a directory`);
  }
  if ((await readdir(dest)).length > 0) {
    throw new CheckoutFailedError(`export directory ${JSON.stringify(dest)} is not empty`, {
      hint: 'Every export goes into a fresh job directory.',
    });
  }
  return true;
}

type RunInMirror = (command: Omit<GitCommand, 'cwd' | 'gitDir' | 'timeoutMs'>) => Promise<GitOutcome>;

async function listTree(git: RunInMirror, treeId: string, limits: CheckoutLimits): Promise<TreeEntry[]> {
  // A legal listing has at most maxFiles files and maxFiles directories, each under maxPathLength.
  const maxStdoutBytes = (2 * limits.maxFiles + 1) * (limits.maxPathLength + LS_TREE_RECORD_OVERHEAD);
  const outcome = await git({ args: ['ls-tree', '-r', '-t', '-l', '-z', '--full-tree', treeId], maxStdoutBytes });
  if (outcome.overflowed) {
    throw new CheckoutRefusedError(
      'max-files',
      undefined,
      `the tree listing is over ${maxStdoutBytes} bytes: more than ${limits.maxFiles} files or directories, or paths far over ${limits.maxPathLength} characters`,
    );
  }
  if (!outcome.ok) failGit(`listing tree ${treeId}`, outcome);
  try {
    return parseLsTree(outcome.stdout);
  } catch (err) {
    throw new CheckoutFailedError(`cannot parse the listing of tree ${treeId}: ${(err as Error).message}`, { cause: err });
  }
}

/** Read every distinct blob through the session, checking each answer against the listing. */
async function readBlobs(cat: CatFile, blobs: TreeEntry[]): Promise<Map<string, Buffer>> {
  const sizes = new Map<string, number>();
  for (const blob of blobs) sizes.set(blob.sha, blob.size ?? 0);
  const contents = new Map<string, Buffer>();
  const answers = await cat.readMany([...sizes].map(([id, size]) => ({ id, keep: size })));
  let i = 0;
  for (const [sha, size] of sizes) {
    const answer = answers[i++];
    if (answer === null || answer === undefined || answer.type !== 'blob' || answer.size !== size) {
      const got = answer ? `${answer.type} of ${answer.size} bytes` : 'missing';
      throw new CheckoutFailedError(`git cat-file answered ${JSON.stringify(got)} for blob ${sha} of ${size} bytes`);
    }
    contents.set(sha, answer.content);
  }
  return contents;
}

async function writeNewFile(path: string, content: Buffer, mode: number): Promise<void> {
  // O_EXCL|O_NOFOLLOW: never write through something that already exists, least of all a symlink.
  const handle = await open(path, NEW_FILE_FLAGS, mode);
  try {
    await handle.writeFile(content);
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

/** Undo a half-written export: remove what we created, leaving a pre-existing directory empty. */
async function emptyDestination(dest: string, existedBefore: boolean): Promise<void> {
  if (!existedBefore) {
    await rm(dest, { recursive: true, force: true });
    return;
  }
  for (const name of await readdir(dest).catch(() => [] as string[])) {
    await rm(join(dest, name), { recursive: true, force: true });
  }
}

function failGit(what: string, outcome: GitOutcome): never {
  if (outcome.timedOut) throw new CheckoutFailedError(`${what} in the mirror timed out`);
  throw new CheckoutFailedError(`${what} in the mirror failed: ${describeGitFailure(outcome)}`);
}
