// Listing a remote's refs with `git ls-remote`, hardened like every other git call of the runner. The URL
// comes from the runner config and goes after `--end-of-options`; no ref name or pattern is ever given to
// git — patterns are applied here, to the parsed output.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BadRemoteUrlError } from '../checkout/errors.ts';
import { describeGitFailure, isUsableRemoteUrl, maskUserinfo, runGit } from '../checkout/git-command.ts';
import { AirlockError } from '../errors.ts';
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

/** The remote's refs that match any of `patterns` (see matchesRefPattern), with the commit each points at. */
export async function listRemoteHeads(
  url: string,
  patterns: string[],
  opts: { timeoutMs?: number } = {},
): Promise<RemoteHead[]> {
  if (typeof url !== 'string' || !isUsableRemoteUrl(url)) throw new BadRemoteUrlError(maskUrl(String(url)));
  const timeoutMs = opts.timeoutMs ?? DEFAULT_LS_REMOTE_TIMEOUT_MS;
  const shownUrl = maskUrl(url);

  // An empty private directory as cwd, with git barred from looking above it, so no repository's config
  // (ours, or one planted in a shared /tmp) takes part.
  const cwd = await mkdtemp(join(tmpdir(), 'airlock-ls-remote-'));
  try {
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
    return parseLsRemote(outcome.stdout.toString('utf8')).filter((head) =>
      patterns.some((pattern) => matchesRefPattern(head.ref, pattern)),
    );
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}
