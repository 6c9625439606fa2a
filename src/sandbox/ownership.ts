// Handing directories to the sandbox user when the runner is root, so a file-permission wall backs up the
// mount wall: the engine runs as a uid that owns its job's tree and HOME and nothing of the runner's.
// Walks never follow symlinks (lchown), and stop at what the runner does not own.
import { chmod, chown, lchown, lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { HostUser } from './sandbox.ts';

async function lchownTree(dir: string, user: HostUser): Promise<void> {
  await lchown(dir, user.uid, user.gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await lchownTree(full, user);
    else await lchown(full, user.uid, user.gid);
  }
}

/** Give `dir` (recursively) to `user`, unless it already belongs to them (a later step of the same job). */
export async function giveTo(dir: string, user: HostUser): Promise<void> {
  const info = await lstat(dir);
  if (!info.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (info.uid === user.uid && info.gid === user.gid) return;
  await lchownTree(dir, user);
}

/**
 * A directory both sandbox users write (a local backend's state dir): the runner keeps the owner, the
 * sandbox group gets rwx with setgid so every file made inside stays in that group.
 */
export async function shareWithGroup(dir: string, gid: number, runnerUid: number): Promise<void> {
  const info = await lstat(dir);
  if (!info.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (info.gid !== gid || info.uid !== runnerUid) await chown(dir, runnerUid, gid);
  if ((info.mode & 0o7777) !== 0o2770) await chmod(dir, 0o2770);
}

/**
 * After a sandbox wrote into a runner directory (the mirror fill): give everything back to the runner and
 * make it world-readable, read-only for everyone else. Symlinks are not followed; the engine may have
 * left some (they point into the same tree, or nowhere the sandbox users could read anyway).
 */
export async function takeBack(dir: string): Promise<void> {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const walk = async (p: string): Promise<void> => {
    const info = await lstat(p);
    if (info.isSymbolicLink()) {
      if (uid === 0) await lchown(p, uid, gid);
      return;
    }
    if (uid === 0) await lchown(p, uid, gid);
    const mode = info.mode & 0o777;
    await chmod(p, info.isDirectory() ? 0o755 : (mode | 0o444) & ~0o022);
    if (info.isDirectory()) for (const entry of await readdir(p)) await walk(path.join(p, entry));
  };
  await walk(dir);
}
