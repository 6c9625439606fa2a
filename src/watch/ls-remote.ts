// Listing a remote's refs with `git ls-remote`, hardened like every other git call of the runner. The URL
// comes from the runner config and goes after `--end-of-options`; no ref name or pattern is ever given to
// git — patterns are applied here, to the parsed output.

import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BadRemoteUrlError } from '../checkout/errors.ts';
import { describeGitFailure, isUsableRemoteUrl, maskUserinfo, runGit } from '../checkout/git-command.ts';
import { AirlockError } from '../errors.ts';
import { readLocalRefs } from './local-refs.ts';
import { matchesRefPattern, parseLsRemote, type RemoteHead } from './refs.ts';

export type { RemoteHead } from './refs.ts';

export const DEFAULT_LS_REMOTE_TIMEOUT_MS = 30_000;
/** Far above any real forge's ref list, low enough that a hostile remote cannot exhaust memory. */
const MAX_LS_REMOTE_BYTES = 64 * 1024 * 1024;

/** `git ls-remote` failed or timed out; the message names the (masked) URL and git's own words. */
export class LsRemoteFailedError extends AirlockError {
  readonly url: string;

  constructor(shownUrl: string, detail: string, options: { cause?: unknown } = {}) {
    super('airlock:ls-remote-failed', `git ls-remote ${shownUrl} failed: ${detail}`, {
      cause: options.cause,
      hint: 'Check that the runner can reach the remote and that its credentials are valid; other repositories keep being watched.',
    });
    this.url = shownUrl;
  }
}

/** The URL with any user name, password or token replaced by `***`, safe to log and to show. */
export function maskUrl(url: string): string {
  return maskUserinfo(url);
}

/** Every ref a remote advertises (parsed on first ask), and a digest of that advertisement (equal digests: nothing moved). */
export interface RemoteListing {
  heads(): RemoteHead[];
  digest: string;
}

function lazily(parse: () => RemoteHead[]): () => RemoteHead[] {
  let heads: RemoteHead[] | null = null;
  return () => (heads ??= parse());
}

export const digestOf = (text: string): string => createHash('sha1').update(text).digest('hex');

// An empty private directory as git's cwd, with git barred from looking above it, so no repository's
// config (ours, or one planted in a shared /tmp) takes part. One per process, made again if it vanished.
let emptyDir: Promise<string> | null = null;
async function privateCwd(): Promise<string> {
  const dir = await (emptyDir ??= mkdtemp(join(tmpdir(), 'airlock-ls-remote-')).then((d) => {
    process.once('exit', () => rmSync(d, { recursive: true, force: true }));
    return d;
  }));
  if (await stat(dir).then((s) => s.isDirectory(), () => false)) return dir;
  emptyDir = null;
  return privateCwd();
}

/**
 * Everything the remote at `url` advertises. A `file://` remote is read in process (local-refs.ts) unless
 * `viaGit`; anything else, or a local repository that reader does not take, through `git ls-remote`.
 */
export async function listRemote(url: string, opts: { timeoutMs?: number; viaGit?: boolean } = {}): Promise<RemoteListing> {
  if (typeof url !== 'string' || !isUsableRemoteUrl(url)) throw new BadRemoteUrlError(maskUrl(String(url)));
  if (!opts.viaGit) {
    const local = await readLocalRefs(url);
    if (local !== null) return { heads: () => local, digest: digestOf(local.map((h) => `${h.sha}\t${h.ref}\n`).join('')) };
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_LS_REMOTE_TIMEOUT_MS;
  const shownUrl = maskUrl(url);
  const cwd = await privateCwd();
  const outcome = await runGit({
    args: ['ls-remote', '--end-of-options', url],
    cwd,
    ceilingDir: dirname(cwd),
    timeoutMs,
    maxStdoutBytes: MAX_LS_REMOTE_BYTES,
  });
  if (outcome.timedOut) throw new LsRemoteFailedError(shownUrl, `timed out after ${timeoutMs} ms`);
  if (outcome.overflowed) throw new LsRemoteFailedError(shownUrl, `the ref list is over ${MAX_LS_REMOTE_BYTES} bytes`);
  if (!outcome.ok) throw new LsRemoteFailedError(shownUrl, maskUserinfo(describeGitFailure(outcome)));
  const text = outcome.stdout.toString('utf8');
  return { heads: lazily(() => parseLsRemote(text)), digest: digestOf(text) };
}

/** The remote's refs that match any of `patterns` (see matchesRefPattern), with the commit each points at. */
export async function listRemoteHeads(
  url: string,
  patterns: string[],
  opts: { timeoutMs?: number; viaGit?: boolean } = {},
): Promise<RemoteHead[]> {
  return (await listRemote(url, opts)).heads().filter((head) => patterns.some((pattern) => matchesRefPattern(head.ref, pattern)));
}
