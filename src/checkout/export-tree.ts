// Export one commit's tree from the mirror into a fresh job directory. The tree is listed and judged
// before anything is written; blobs are then read raw with one `git cat-file --batch` and written by us,
// so git never applies filters, smudge, attributes, hooks or LFS to the pull request's content.

import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, rm } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import {
  findTreeViolation,
  isExecutableMode,
  isObjectId,
  parseLsTree,
  showPath,
  type CheckoutLimits,
  type TreeEntry,
} from './checkout.ts';
import { BadShaError, CheckoutFailedError, CheckoutRefusedError } from './errors.ts';
import { describeGitFailure, runGit, type GitCommand, type GitOutcome } from './git-command.ts';
import { assertMirror, readObjectType } from './mirror.ts';

export interface ExportResult {
  treeId: string;
  files: number;
  bytes: number;
}

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

  const type = await readObjectType(mirror, sha);
  if (type === null) {
    throw new CheckoutFailedError(`commit ${sha} is not in the mirror ${JSON.stringify(mirror)}`, {
      hint: 'Fetch the commit with fetchCommit first.',
    });
  }
  if (type !== 'commit') throw new BadShaError(sha, `names a ${type}, not a commit`);

  const treeOutcome = await git({ args: ['rev-parse', '--verify', '--quiet', `${sha}^{tree}`] });
  const treeId = treeOutcome.stdout.toString('utf8').trim();
  if (!treeOutcome.ok || !isObjectId(treeId)) failGit(`reading the tree of ${sha}`, treeOutcome);

  const listed = await listTree(git, treeId, limits);
  const violation = findTreeViolation(listed, limits);
  if (violation !== null) throw new CheckoutRefusedError(violation.rule, violation.path, violation.message);
  // Allowed submodules are exported without their contents: a gitlink names a commit in another repository.
  const entries = listed.filter((e) => e.type !== 'commit');

  const blobs = entries.filter((e) => e.type === 'blob');
  const contents = await readBlobs(git, blobs);

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
  return { treeId, files: blobs.length, bytes };
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

/** Read every distinct blob with one `git cat-file --batch`, checking each header against the listing. */
async function readBlobs(git: RunInMirror, blobs: TreeEntry[]): Promise<Map<string, Buffer>> {
  const sizes = new Map<string, number>();
  for (const blob of blobs) sizes.set(blob.sha, blob.size ?? 0);
  const contents = new Map<string, Buffer>();
  if (sizes.size === 0) return contents;

  let expected = 0;
  for (const [sha, size] of sizes) expected += `${sha} blob ${size}\n`.length + size + 1;
  const outcome = await git({
    args: ['cat-file', '--batch'],
    stdin: [...sizes.keys()].map((sha) => `${sha}\n`).join(''),
    maxStdoutBytes: expected,
  });
  if (!outcome.ok) failGit('reading blobs', outcome);

  const out = outcome.stdout;
  let offset = 0;
  for (const [sha, size] of sizes) {
    const newline = out.indexOf(0x0a, offset);
    const header = newline === -1 ? '' : out.subarray(offset, newline).toString('latin1');
    if (header !== `${sha} blob ${size}`) {
      throw new CheckoutFailedError(`git cat-file answered ${JSON.stringify(header.slice(0, 200))} for blob ${sha} of ${size} bytes`);
    }
    const start = newline + 1;
    if (start + size + 1 > out.length || out[start + size] !== 0x0a) {
      throw new CheckoutFailedError(`git cat-file output for blob ${sha} is truncated`);
    }
    contents.set(sha, out.subarray(start, start + size));
    offset = start + size + 1;
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
