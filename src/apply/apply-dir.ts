// The apply's own directory. Plan and apply share nothing: the apply runs in a fresh, runner-made
// directory holding only the approved plan file's bytes (copied in and hashed in one pass, so the check
// and the use cannot diverge) and the provider lock file read out of those same bytes. Providers come from
// the runner's read-only mirror, never from the plan's `.terraform`, which the plan sandbox could write.
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SandboxSettings } from '../sandbox/sandbox.ts';
import { copyHashed, shareReadOnlyWithSandbox } from '../sandbox/runner-files.ts';
import { readZipEntry } from '../sandbox/zip-entry.ts';

export interface ApplyDir {
  /** The engine's working directory (read-write for the apply sandbox). */
  work: string;
  home: string;
  /** The runner's copy of the approved plan file (read-only in the sandbox). */
  planFile: string;
  /** The lock file read out of the plan file, if it has one (read-only in the sandbox). */
  lockFile: string | null;
  /** sha256 of exactly the bytes in `planFile`. */
  sha256: string;
}

const LOCK_FILE = '.terraform.lock.hcl';

/** Pure: the layout of a job's apply directory. */
export function applyDirLayout(jobDir: string) {
  const root = path.join(jobDir, 'apply');
  const input = path.join(root, 'input');
  const work = path.join(root, 'work');
  return { root, input, work, home: path.join(work, 'home'), planFile: path.join(input, 'plan.tfplan'), lockFile: path.join(input, 'lock.hcl') };
}

/**
 * Make the apply directory afresh from the approved plan file; null when the plan file is gone.
 * `planWorkspace` is the plan's own workspace dir, used only without a sandbox (its providers).
 */
export async function prepareApplyDir(jobDir: string, approvedPlanFile: string, sandbox: SandboxSettings | null, planWorkspace: string): Promise<ApplyDir | null> {
  const dir = applyDirLayout(jobDir);
  await rm(dir.root, { recursive: true, force: true });
  await mkdir(dir.input, { recursive: true, mode: 0o700 });
  await mkdir(path.join(dir.work, '.terraform', 'providers'), { recursive: true, mode: 0o700 });
  await mkdir(dir.home, { mode: 0o700 });
  let sha256: string;
  try {
    sha256 = await copyHashed(approvedPlanFile, dir.planFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  await shareReadOnlyWithSandbox(dir.planFile, sandbox);
  const lock = await readZipEntry(dir.planFile, LOCK_FILE).catch(() => null);
  let lockFile: string | null = null;
  if (lock) {
    lockFile = dir.lockFile;
    await writeFile(lockFile, lock, { mode: 0o600, flag: 'wx' });
    await shareReadOnlyWithSandbox(lockFile, sandbox);
    // The read-only bind needs a mount point; without a sandbox the engine reads this copy directly.
    await writeFile(path.join(dir.work, LOCK_FILE), sandbox ? '' : lock, { mode: 0o600 });
  }
  if (!sandbox) {
    await rm(path.join(dir.work, '.terraform', 'providers'), { recursive: true });
    await symlink(path.join(planWorkspace, '.terraform', 'providers'), path.join(dir.work, '.terraform', 'providers'));
  }
  return { work: dir.work, home: dir.home, planFile: dir.planFile, lockFile, sha256 };
}
