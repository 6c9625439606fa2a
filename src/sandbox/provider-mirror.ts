// The runner's provider mirror: one directory, written only by the runner's own fill step (never by a
// pull request), read-only in every sandbox. Plans install providers from it and from nothing else
// (`filesystem_mirror` without `direct`); terraform verifies each package against the lock file's hashes.
// The unpacked layout (HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/) lets init symlink instead of copying.

/** Pure: the CLI config every sandboxed engine reads: install from the mirror only. */
export function mirrorCliConfig(mirror: string): string {
  return `# Written by Airlock: providers come only from the runner's mirror.\nprovider_installation {\n  filesystem_mirror {\n    path = ${hclString(mirror)}\n  }\n}\n`;
}

/** Pure: an HCL string literal (JSON escaping, plus template sequences neutralised). */
export function hclString(text: string): string {
  return JSON.stringify(text).replace(/\$\{/g, '$${').replace(/%\{/g, '%%{');
}
