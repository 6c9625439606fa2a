// Where a runner may keep its data. Checked before anything creates the directory: Node's recursive
// mkdir never returns under /proc (it spins), and nothing written to a kernel pseudo-filesystem is kept.
import { realpath } from 'node:fs/promises';
import path from 'node:path';

const PSEUDO_FILESYSTEMS = ['/proc', '/sys', '/dev'];

/** Pure: the kernel pseudo-filesystem an absolute path lies in, or null. */
export function pseudoFilesystemOf(absolute: string): string | null {
  const p = path.normalize(absolute);
  return PSEUDO_FILESYSTEMS.find((root) => p === root || p.startsWith(`${root}/`)) ?? null;
}

/** Where an absolute path really leads: its deepest existing ancestor with symlinks resolved, then the rest. */
export async function realLocation(absolute: string): Promise<string> {
  let existing = path.normalize(absolute);
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(await realpath(existing), ...rest.reverse());
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) return path.normalize(absolute);
      rest.push(path.basename(existing));
      existing = parent;
    }
  }
}

/** Why `dir` (absolute) cannot be a data dir, or null. Only reads: creates nothing. */
export async function dataDirProblem(dir: string): Promise<string | null> {
  if (dir.includes('\0')) return 'must not contain a NUL byte';
  const real = await realLocation(dir);
  const fs = pseudoFilesystemOf(dir) ?? pseudoFilesystemOf(real);
  if (fs === null) return null;
  const via = real !== path.normalize(dir) ? ` (it leads to ${real})` : '';
  return `must not be under /proc, /sys or /dev: ${fs} is a kernel pseudo-filesystem, where nothing the runner writes is kept${via}`;
}
