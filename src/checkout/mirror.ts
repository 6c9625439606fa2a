// A bare mirror per repository, and fetching one exact commit into it by its full id.

import { appendFile, chmod, lstat, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DEFAULT_CHECKOUT_LIMITS, isObjectId, parseCommitIdentity, type CommitIdentity } from './checkout.ts';
import { BadRemoteUrlError, BadShaError, CheckoutFailedError, CommitGoneError, FetchFailedError } from './errors.ts';
import { describeGitFailure, isUsableRemoteUrl, maskUserinfo, runGit } from './git-command.ts';

/** Where fetched commits are kept reachable, one ref per commit id, so a future gc cannot prune them. */
export const FETCHED_REF_PREFIX = 'refs/airlock/fetched/';

// Written into every mirror we create, so even a human running git inside it gets no hooks or filters.
const MIRROR_CONFIG = `[core]
\thooksPath = /dev/null
\tfsmonitor = false
[protocol "ext"]
\tallow = never
[gc]
\tauto = 0
[maintenance]
\tauto = false
`;

// How git says "the remote does not have that object" across protocol versions and forges.
const COMMIT_GONE = /not our ref|couldn't find remote ref|no such remote ref|unadvertised object/i;

/** Create the bare mirror at `mirrorDir` (mode 0700, no hooks) unless a bare repository is already there. */
export async function ensureMirror(mirrorDir: string, url: string): Promise<void> {
  assertUsableUrl(url);
  const dir = resolve(mirrorDir);
  const existing = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw new CheckoutFailedError(`cannot inspect mirror directory ${JSON.stringify(dir)}: ${err.message}`, { cause: err });
  });

  if (existing !== null) {
    if (!existing.isDirectory()) {
      throw new CheckoutFailedError(`mirror path ${JSON.stringify(dir)} exists and is not a directory`);
    }
    if (await isBareRepository(dir)) return;
    if ((await readdir(dir)).length > 0) {
      throw new CheckoutFailedError(`mirror directory ${JSON.stringify(dir)} is neither empty nor a bare git repository`, {
        hint: 'Point the mirror setting at an empty or missing directory; the runner creates the mirror itself.',
      });
    }
  }
  await createMirror(dir);
}

/**
 * `git init --bare` in a fresh sibling directory, made hook-free there, then renamed into place. A runner
 * killed mid-init leaves only a stray sibling, never a half-made mirror (without the no-hooks config) at
 * `dir`; two plans creating the same new mirror at once both succeed: the second rename finds a bare
 * repository in place and keeps it.
 */
async function createMirror(dir: string): Promise<void> {
  await mkdir(dirname(dir), { recursive: true, mode: 0o700 });
  const tmp = await mkdtemp(join(dirname(dir), `.${basename(dir)}.init-`));
  try {
    const outcome = await runGit({ args: ['init', '--bare', '--quiet'], cwd: tmp, gitDir: tmp, timeoutMs: 30_000 });
    if (!outcome.ok) {
      throw new CheckoutFailedError(`git init of the mirror ${JSON.stringify(dir)} failed: ${describeGitFailure(outcome)}`);
    }
    // A template directory may have supplied sample (or real) hooks; the mirror never runs any.
    await rm(join(tmp, 'hooks'), { recursive: true, force: true });
    await appendFile(join(tmp, 'config'), MIRROR_CONFIG, { mode: 0o600 });
    await chmod(tmp, 0o700);
    // rename(2) replaces a missing or empty directory; a mirror another plan just made stays.
    await rename(tmp, dir).catch(async (err: NodeJS.ErrnoException) => {
      if ((err.code === 'ENOTEMPTY' || err.code === 'EEXIST') && (await isBareRepository(dir))) return;
      throw new CheckoutFailedError(`cannot move the new mirror into ${JSON.stringify(dir)}: ${err.message}`, { cause: err });
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Fetch exactly commit `sha` from `url` into the mirror. The id is validated before git runs; a commit the
 * remote no longer has (force-pushed away) fails with `airlock:commit-gone`. `checkType: false` skips
 * asking git whether it is a commit, for a caller whose next step (exportCommit) asks anyway.
 */
export async function fetchCommit(
  mirrorDir: string,
  url: string,
  sha: string,
  opts: { timeoutMs?: number; checkType?: boolean } = {},
): Promise<void> {
  if (!isObjectId(sha)) throw new BadShaError(sha);
  assertUsableUrl(url);
  const dir = resolve(mirrorDir);
  await assertMirror(dir);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CHECKOUT_LIMITS.timeoutMs;
  const shownUrl = maskUserinfo(url);

  const outcome = await runGit({
    args: [
      'fetch',
      '--no-tags',
      '--no-recurse-submodules',
      '--no-write-fetch-head',
      '--end-of-options',
      url,
      `${sha}:${FETCHED_REF_PREFIX}${sha}`,
    ],
    cwd: dir,
    gitDir: dir,
    timeoutMs,
  });
  if (!outcome.ok) {
    const message = maskUserinfo(describeGitFailure(outcome));
    if (outcome.timedOut) {
      throw new FetchFailedError(`fetching commit ${sha} from ${shownUrl} timed out after ${timeoutMs} ms`, {
        hint: 'The remote is slow or unreachable; the run can be retried.',
      });
    }
    if (COMMIT_GONE.test(outcome.stderr)) throw new CommitGoneError(sha, shownUrl, new Error(message));
    throw new FetchFailedError(`fetching commit ${sha} from ${shownUrl} failed: ${message}`, {
      hint: 'Check that the runner can reach the remote and that its credentials are valid.',
    });
  }

  if (opts.checkType === false) return;
  const type = await readObjectType(dir, sha);
  if (type === null) {
    throw new CheckoutFailedError(`git fetched ${sha} from ${shownUrl}, but the object is not in the mirror ${JSON.stringify(dir)}`);
  }
  if (type !== 'commit') throw new BadShaError(sha, `names a ${type}, not a commit`);
}

/** The object's type in the mirror (`commit`, `tree`, …), or null when the mirror does not have it. */
export async function readObjectType(mirrorDir: string, sha: string, timeoutMs = 30_000): Promise<string | null> {
  if (!isObjectId(sha)) throw new BadShaError(sha);
  const outcome = await runGit({ args: ['cat-file', '-t', sha], cwd: mirrorDir, gitDir: mirrorDir, timeoutMs });
  if (!outcome.ok) {
    if (outcome.timedOut) throw new CheckoutFailedError(`reading object ${sha} from the mirror timed out`);
    return null;
  }
  return outcome.stdout.toString('utf8').trim();
}

/** The author and committer (name and email) of commit `sha` in the mirror, read from the raw commit headers. */
export async function readCommitIdentity(mirrorDir: string, sha: string, timeoutMs = 30_000): Promise<CommitIdentity> {
  if (!isObjectId(sha)) throw new BadShaError(sha);
  const outcome = await runGit({ args: ['cat-file', 'commit', sha], cwd: mirrorDir, gitDir: mirrorDir, timeoutMs, maxStdoutBytes: 1 << 20 });
  if (!outcome.ok && !outcome.overflowed) throw new CheckoutFailedError(`reading commit ${sha} from the mirror failed: ${describeGitFailure(outcome)}`);
  return parseCommitIdentity(sha, outcome.stdout.toString('utf8'));
}

// Mirrors this process has already seen git confirm as bare, keyed by directory, with the identity of their
// HEAD file. A plan asks three times (ensure, fetch, export) and each answer costs a git process; a mirror
// whose HEAD is gone or was replaced is asked again.
const confirmedBare = new Map<string, string>();

async function isBareRepository(dir: string): Promise<boolean> {
  const head = await lstat(join(dir, 'HEAD')).catch(() => null);
  if (head === null) {
    confirmedBare.delete(dir);
    return false;
  }
  const identity = `${head.dev}:${head.ino}:${head.ctimeMs}`;
  if (confirmedBare.get(dir) === identity) return true;
  const outcome = await runGit({ args: ['rev-parse', '--is-bare-repository'], cwd: dir, gitDir: dir, timeoutMs: 30_000 });
  const bare = outcome.ok && outcome.stdout.toString('utf8').trim() === 'true';
  if (bare) confirmedBare.set(dir, identity);
  else confirmedBare.delete(dir);
  return bare;
}

/** Refuse to run git in a directory that is not a mirror: git would otherwise go looking for another repo. */
export async function assertMirror(dir: string): Promise<void> {
  if (!(await isBareRepository(dir))) {
    throw new CheckoutFailedError(`${JSON.stringify(dir)} is not a bare git mirror`, {
      hint: 'Call ensureMirror before fetching or exporting.',
    });
  }
}

function assertUsableUrl(url: string): void {
  if (typeof url !== 'string' || !isUsableRemoteUrl(url)) throw new BadRemoteUrlError(maskUserinfo(String(url)));
}
