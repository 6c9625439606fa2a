// The runner's provider mirror: one directory, written only by the runner's own fill step (never by a
// pull request), read-only in every sandbox. Plans install providers from it and from nothing else
// (`filesystem_mirror` without `direct`); terraform verifies each package against the lock file's hashes.
// The unpacked layout (HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/) lets init symlink instead of copying.
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';

/** Pure: the CLI config every sandboxed engine reads: install from the mirror only. */
export function mirrorCliConfig(mirror: string): string {
  return `# Written by Airlock: providers come only from the runner's mirror.\nprovider_installation {\n  filesystem_mirror {\n    path = ${hclString(mirror)}\n  }\n}\n`;
}

/** Pure: an HCL string literal (JSON escaping, plus template sequences neutralised). */
export function hclString(text: string): string {
  return JSON.stringify(text).replace(/\$\{/g, '$${').replace(/%\{/g, '%%{');
}

/**
 * Make the mirror directory if it is missing: its parent private to the runner (it is usually the data
 * dir), the mirror itself 0755, set explicitly because a runner with UMask=0077 would hide it from the
 * sandbox users. It holds only public provider packages.
 */
export async function ensureMirrorDir(mirror: string): Promise<void> {
  await mkdir(path.dirname(mirror), { recursive: true, mode: 0o700 });
  try {
    await mkdir(mirror, { mode: 0o755 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  await chmod(mirror, 0o755);
}
