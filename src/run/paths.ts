// Where a runner keeps things under its data directory. Everything here is 0700/0600. A name that comes
// from anywhere but the runner's own code (a run id read from Redis, a directory entry) becomes a path
// only through `pathInside`/`resolveInside`, which refuse anything that would land outside its parent.
import { lstat, mkdir, realpath, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseRunId } from './run-schema.ts';
import { AirlockError } from '../errors.ts';

export class PathEscapeError extends AirlockError {
  constructor(parent: string, name: string, why: string) {
    super('airlock:path-escape', `refused to use ${JSON.stringify(name.slice(0, 120))} under ${parent}: ${why}`, {
      hint: 'Nothing was created or deleted. A name that leaves its directory came from outside the runner; check who writes to its Redis.',
    });
  }
}

/** One path segment under `parent`, refused unless it names a direct child (no separators, `..`, NUL). */
export function pathInside(parent: string, name: string): string {
  if (name === '' || name === '.' || name === '..') throw new PathEscapeError(parent, name, 'not a name');
  if (name.includes('\0')) throw new PathEscapeError(parent, name, 'contains a NUL byte');
  if (name.includes('/') || name.includes('\\') || path.isAbsolute(name)) throw new PathEscapeError(parent, name, 'contains a path separator');
  const child = path.resolve(parent, name);
  if (path.dirname(child) !== path.resolve(parent)) throw new PathEscapeError(parent, name, 'resolves outside its parent');
  return child;
}

/**
 * `root/segments…`, checked on disk: each segment is a plain name, and no existing component below
 * `root` is a symlink, so the path cannot resolve outside its parent (the root itself may be a link).
 */
export async function resolveInside(root: string, ...segments: string[]): Promise<string> {
  let current = await realpath(root);
  for (const segment of segments) {
    current = pathInside(current, segment);
    const info = await lstat(current).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (info?.isSymbolicLink()) throw new PathEscapeError(path.dirname(current), segment, 'is a symbolic link');
  }
  return current;
}

/** Path helpers for one runner's data directory. */
export function runnerPaths(dataDir: string) {
  const jobsDir = path.join(dataDir, 'jobs');
  return {
    dataDir,
    mirror: (repo: string) => path.join(dataDir, 'mirrors', `${repo}.git`),
    jobsDir,
    /** The files of one job; the run id is checked, so the directory is always a direct child of jobs/. */
    job: (runId: string) => jobFiles(pathInside(jobsDir, parseRunId(runId, 'job directory'))),
    stateFile: (repo: string, workspace: string) => path.join(dataDir, 'state', repo, workspace, 'terraform.tfstate'),
    auditDir: path.join(dataDir, 'audit'),
  };
}

function jobFiles(dir: string) {
  return {
    dir,
    tree: path.join(dir, 'tree'),
    home: path.join(dir, 'home'),
    planFile: path.join(dir, 'plan.tfplan'),
    planJson: path.join(dir, 'plan.json'),
    planLog: path.join(dir, 'plan.log'),
    applyLog: path.join(dir, 'apply.log'),
    /** What the approver is shown, written by the runner after the engine exits (approve/plan-view.ts). */
    planView: path.join(dir, 'plan-view.json'),
  };
}

export type RunnerPaths = ReturnType<typeof runnerPaths>;

/** Delete one job's directory, checked on disk first; the only way job directories are deleted. */
export async function removeJobDir(paths: RunnerPaths, runId: string): Promise<void> {
  const dir = await resolveInside(paths.dataDir, 'jobs', parseRunId(runId, 'job directory'));
  await rm(dir, { recursive: true, force: true });
}

/** A fresh, empty 0700 job directory for a run (anything left from an earlier attempt is removed). */
export async function freshJobDir(paths: RunnerPaths, runId: string): Promise<string> {
  await mkdir(paths.jobsDir, { recursive: true, mode: 0o700 });
  const dir = await resolveInside(paths.dataDir, 'jobs', parseRunId(runId, 'job directory'));
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { mode: 0o700 });
  return dir;
}
