// The checkout domain: a local bare mirror per repository, fetching one exact commit into it, and
// exporting that commit's tree into a fresh job directory without git ever interpreting the content
// (no checkout, no filters, no hooks, no LFS). This file holds the types, the limits and the pure rules
// that decide whether a tree may be exported; mirror.ts and export-tree.ts hold the effects.
import { CheckoutFailedError } from './errors.ts';

export interface CheckoutLimits {
  /** Regular files in the tree (directories are counted separately against the same number). */
  maxFiles: number;
  /** Sum of all file sizes. */
  maxBytes: number;
  /** Size of the largest single file. */
  maxFileBytes: number;
  /** Characters in a repository-relative path. */
  maxPathLength: number;
  /** Wall-clock limit for each git operation (fetch, export). */
  timeoutMs: number;
  /** Export trees that declare submodules (`guard.allowSubmodules`); their gitlinks are skipped, never fetched. */
  allowSubmodules?: boolean;
}

export const DEFAULT_CHECKOUT_LIMITS: CheckoutLimits = Object.freeze({
  maxFiles: 5_000,
  maxBytes: 50 * 1024 * 1024,
  maxFileBytes: 5 * 1024 * 1024,
  maxPathLength: 512,
  timeoutMs: 120_000,
});

export interface TreeEntry {
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  sha: string;
  /** Blob size in bytes; null for trees and gitlinks. */
  size: number | null;
  /** Repository-relative path, `/`-separated, exactly as stored in git. */
  path: string;
}

export type TreeRule =
  | 'symlink'
  | 'submodule'
  | 'max-files'
  | 'max-bytes'
  | 'max-file-bytes'
  | 'max-path-length'
  | 'unsafe-path'
  | 'duplicate-path'
  | 'unsupported-entry';

export interface TreeViolation {
  rule: TreeRule;
  path?: string;
  message: string;
}

const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** True for a full object id: 40 (sha1) or 64 (sha256) lowercase hex digits and nothing else. */
export function isObjectId(value: unknown): value is string {
  return typeof value === 'string' && OBJECT_ID.test(value);
}

const SYMLINK_MODE = '120000';
const GITLINK_MODE = '160000';
const TREE_MODE = '040000';
const EXECUTABLE_MODE = '100755';
/** Most filesystems refuse longer names, and a refusal is clearer than ENAMETOOLONG halfway through. */
const MAX_COMPONENT_BYTES = 255;

/** True when a blob mode means "executable file". */
export function isExecutableMode(mode: string): boolean {
  return mode === EXECUTABLE_MODE;
}

/** A path as it may be shown to a human or a log: quoted, with control characters visible. */
export function showPath(path: string): string {
  return JSON.stringify(path);
}

/** Pure: the first reason this tree may not be exported, or null. */
export function findTreeViolation(entries: TreeEntry[], limits: CheckoutLimits): TreeViolation | null {
  const seen = new Set<string>();
  let files = 0;
  let directories = 0;
  let bytes = 0;

  for (const entry of entries) {
    const { path } = entry;
    const shown = showPath(path);

    const unsafe = findUnsafeComponent(path);
    if (unsafe !== null) {
      return { rule: 'unsafe-path', path, message: `${shown} ${unsafe}; such paths are never exported` };
    }
    if (entry.mode === SYMLINK_MODE) {
      return { rule: 'symlink', path, message: `${shown} is a symbolic link; symlinks are never exported` };
    }
    if (entry.mode === GITLINK_MODE || entry.type === 'commit') {
      if (limits.allowSubmodules === true) continue;
      return { rule: 'submodule', path, message: `${shown} is a submodule (gitlink); submodules are never exported (guard.allowSubmodules is off)` };
    }
    if (baseName(path).toLowerCase() === '.gitmodules' && limits.allowSubmodules !== true) {
      return { rule: 'submodule', path, message: `${shown} declares submodules; submodules are never exported (guard.allowSubmodules is off)` };
    }
    const unsupported = describeUnsupportedEntry(entry);
    if (unsupported !== null) {
      return { rule: 'unsupported-entry', path, message: `${shown} ${unsupported}` };
    }
    if (path.length > limits.maxPathLength) {
      return {
        rule: 'max-path-length',
        path,
        message: `${shown} is ${path.length} characters long, over the limit of ${limits.maxPathLength}`,
      };
    }
    const longComponent = path.split('/').find((c) => Buffer.byteLength(c, 'utf8') > MAX_COMPONENT_BYTES);
    if (longComponent !== undefined) {
      return {
        rule: 'max-path-length',
        path,
        message: `${shown} has a name of ${Buffer.byteLength(longComponent, 'utf8')} bytes, over the limit of ${MAX_COMPONENT_BYTES} per name`,
      };
    }
    if (seen.has(path)) {
      return { rule: 'duplicate-path', path, message: `${shown} appears more than once in the tree` };
    }
    seen.add(path);

    if (entry.type === 'tree') {
      directories += 1;
      if (directories > limits.maxFiles) {
        return {
          rule: 'max-files',
          path,
          message: `the tree has more than ${limits.maxFiles} directories (the limit is ${limits.maxFiles}), reached at ${shown}`,
        };
      }
      continue;
    }

    const size = entry.size ?? 0;
    if (size > limits.maxFileBytes) {
      return {
        rule: 'max-file-bytes',
        path,
        message: `${shown} is ${size} bytes, over the limit of ${limits.maxFileBytes} bytes per file`,
      };
    }
    files += 1;
    if (files > limits.maxFiles) {
      return {
        rule: 'max-files',
        path,
        message: `the tree has more than ${limits.maxFiles} files (the limit is ${limits.maxFiles}), reached at ${shown}`,
      };
    }
    bytes += size;
    if (bytes > limits.maxBytes) {
      return {
        rule: 'max-bytes',
        path,
        message: `the files add up to more than ${limits.maxBytes} bytes (the limit is ${limits.maxBytes}), reached at ${shown}`,
      };
    }
  }
  return null;
}

/** Why a path could escape or corrupt the export directory, or null when every component is plain. */
function findUnsafeComponent(path: string): string | null {
  if (path === '') return 'is empty';
  if (path.includes('\ufffd')) return 'is not valid UTF-8';
  if (path.includes('\0')) return 'contains a NUL byte';
  for (const component of path.split('/')) {
    if (component === '') return 'has an empty component (a leading, trailing or doubled `/`)';
    if (component === '.' || component === '..') return `has a \`${component}\` component`;
    if (component.toLowerCase() === '.git') return 'has a `.git` component';
  }
  return null;
}

function describeUnsupportedEntry(entry: TreeEntry): string | null {
  if (entry.type === 'tree') return entry.mode === TREE_MODE ? null : `is a tree with the unexpected mode ${entry.mode}`;
  if (entry.type !== 'blob') return `has the unknown type ${String(entry.type)}`;
  if (!/^100[0-7]{3}$/.test(entry.mode)) return `is a blob with the unsupported mode ${entry.mode}`;
  if (entry.size === null || !Number.isSafeInteger(entry.size) || entry.size < 0) return 'is a blob without a size';
  return null;
}

function baseName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? path : path.slice(slash + 1);
}

/** Who made a commit, as its raw headers say. */
export interface CommitIdentity {
  author: { name: string; email: string };
  committer: { name: string; email: string };
}

const IDENTITY_LINE = /^(author|committer) (.*) <([^<>\n]*)> \d+ [+-]\d{4}$/;

/**
 * Pure: the author and committer of commit `sha` from its raw object text. Headers end at the first blank
 * line; the message, which the pusher controls freely, is never read. Throws when either is missing.
 */
export function parseCommitIdentity(sha: string, text: string): CommitIdentity {
  const found: Record<string, { name: string; email: string }> = {};
  for (const line of text.split('\n')) {
    if (line === '') break;
    const m = IDENTITY_LINE.exec(line);
    if (m && !found[m[1]!]) found[m[1]!] = { name: m[2]!, email: m[3]! };
  }
  if (!found['author'] || !found['committer']) throw new CheckoutFailedError(`commit ${sha} has no readable author or committer`);
  return { author: found['author'], committer: found['committer'] };
}

const LS_TREE_HEADER = /^([0-7]{6}) (blob|tree|commit) ([0-9a-f]{40}|[0-9a-f]{64}) +(-|\d+)$/;
const TAB = 0x09;

/**
 * Pure: parse `git ls-tree -r -t -l -z` output. Records are NUL-terminated and paths are raw bytes (they
 * may hold newlines, tabs and spaces); invalid UTF-8 decodes to U+FFFD, which findTreeViolation refuses.
 * Throws on anything that is not exactly that format.
 */
export function parseLsTree(output: Buffer): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let start = 0;
  while (start < output.length) {
    const end = output.indexOf(0, start);
    if (end === -1) throw new Error(`ls-tree output ends without a NUL terminator at byte ${start}`);
    const tab = output.indexOf(TAB, start);
    if (tab === -1 || tab > end) throw new Error(`ls-tree record at byte ${start} has no tab`);
    const header = output.subarray(start, tab).toString('latin1');
    const match = LS_TREE_HEADER.exec(header);
    if (match === null) throw new Error(`ls-tree record at byte ${start} is malformed: ${JSON.stringify(header)}`);
    const [, mode, type, sha, size] = match as unknown as [string, string, TreeEntry['type'], string, string];
    entries.push({
      mode,
      type,
      sha,
      size: size === '-' ? null : Number(size),
      path: output.subarray(tab + 1, end).toString('utf8'),
    });
    start = end + 1;
  }
  return entries;
}

// The domain's effects, re-exported so callers can import the whole checkout API from this file.
export { ensureMirror, fetchCommit } from './mirror.ts';
export { exportCommit, type ExportResult } from './export-tree.ts';
