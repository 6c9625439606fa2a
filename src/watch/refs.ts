// Pure rules about remote refs: reading `git ls-remote` output, matching the configured ref patterns, and
// finding the pull-request number in a forge's PR ref. Ref names are data from the remote: they may hold
// shell metacharacters and start with `-`, and they are never handed back to git.

export interface RemoteHead {
  ref: string;
  /** 40 lowercase hex digits (64 for sha256 repositories). */
  sha: string;
}

const LS_REMOTE_LINE = /^([0-9a-f]{40}|[0-9a-f]{64})\t([^\t]+)$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Parse `git ls-remote` output; malformed lines and peeled tag entries (`^{}`) are skipped. */
export function parseLsRemote(output: string): RemoteHead[] {
  const heads: RemoteHead[] = [];
  for (const line of output.split('\n')) {
    const match = LS_REMOTE_LINE.exec(line);
    if (match === null) continue;
    const [, sha, ref] = match as unknown as [string, string, string];
    if (ref.endsWith('^{}') || CONTROL_CHARS.test(ref)) continue;
    heads.push({ ref, sha });
  }
  return heads;
}

const patternCache = new Map<string, RegExp>();

/** True when `ref` matches `pattern`, where each `*` stands for one non-empty path segment's worth of text. */
export function matchesRefPattern(ref: string, pattern: string): boolean {
  let regex = patternCache.get(pattern);
  if (regex === undefined) {
    const body = pattern
      .split('*')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]+');
    regex = new RegExp(`^${body}$`);
    patternCache.set(pattern, regex);
  }
  return regex.test(ref);
}

const PR_REF = /^refs\/(?:pull\/([1-9][0-9]{0,14})\/(?:head|merge)|merge-requests\/([1-9][0-9]{0,14})\/head)$/;

/** The PR (or merge request) number in `refs/pull/N/head`, `refs/pull/N/merge` or `refs/merge-requests/N/head`. */
export function prNumberFromRef(ref: string): number | null {
  const match = PR_REF.exec(ref);
  if (match === null) return null;
  const n = Number(match[1] ?? match[2]);
  return Number.isSafeInteger(n) ? n : null;
}
