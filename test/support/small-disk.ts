// A small tmpfs the test mounts over a directory, to fill the disk for real (ENOSPC) and free it again.
// Mounting needs root; without it (or without `mount`) the caller skips. The mount is the test's own and
// is unmounted in its clean-up.
import { execFile } from 'node:child_process';
import { mkdir, rm, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SmallDisk {
  dir: string;
  /** Fill the disk until at most `leaveBytes` are free (0: until a write fails with ENOSPC). */
  fill(leaveBytes?: number): Promise<void>;
  /** Remove what fill() wrote. */
  free(): Promise<void>;
  freeBytes(): Promise<number>;
  unmount(): Promise<void>;
}

/** Whether this process may mount a tmpfs (root on Linux). */
export function canMount(): boolean {
  return process.platform === 'linux' && process.getuid?.() === 0;
}

/** Mount a tmpfs of `sizeBytes` at `dir` (created, mode 700). */
export async function mountSmallDisk(dir: string, sizeBytes: number): Promise<SmallDisk> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=700`, 'tmpfs', dir]);
  const fillers: string[] = [];
  let mounted = true;
  const freeBytes = async () => {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  };
  return {
    dir,
    freeBytes,
    async fill(leaveBytes = 0) {
      for (let i = 0; i < 10_000; i++) {
        const room = (await freeBytes()) - leaveBytes;
        if (room <= 0) return;
        const file = path.join(dir, `.filler-${fillers.length}`);
        fillers.push(file);
        try {
          await writeFile(file, Buffer.alloc(Math.max(1, Math.min(room, 4 * 1024 * 1024))));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return;
          throw err;
        }
      }
    },
    async free() {
      for (const f of fillers.splice(0)) await rm(f, { force: true });
    },
    async unmount() {
      if (!mounted) return;
      mounted = false;
      await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
    },
  };
}
