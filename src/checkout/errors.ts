import { AirlockError } from '../errors.ts';
import type { TreeRule } from './checkout.ts';

/** The tree of the commit breaks a checkout rule; nothing was written. Not worth retrying. */
export class CheckoutRefusedError extends AirlockError {
  readonly rule: TreeRule;
  readonly path: string | undefined;

  constructor(rule: TreeRule, path: string | undefined, detail: string) {
    super('airlock:checkout-refused', `checkout refused (${rule}): ${detail}`, {
      hint: 'The pull request must change its tree before it can be planned; the runner never exports symlinks, submodules, unsafe paths or trees over the configured limits.',
    });
    this.rule = rule;
    this.path = path;
  }
}

/** A commit id that is not 40 (or 64) lowercase hex digits, or names something that is not a commit. */
export class BadShaError extends AirlockError {
  constructor(sha: unknown, why = 'must be 40 (or 64) lowercase hex digits') {
    super('airlock:bad-sha', `commit id ${JSON.stringify(String(sha)).slice(0, 140)} ${why}`, {
      hint: 'Commits are fetched by their full id only; names are never passed to git.',
    });
  }
}

/** The remote no longer has the commit: the head moved (force-push) between sighting and fetch. */
export class CommitGoneError extends AirlockError {
  readonly sha: string;

  constructor(sha: string, url: string, cause?: unknown) {
    super(
      'airlock:commit-gone',
      `commit ${sha} is no longer on ${url}: the head moved before it could be fetched; the run is aborted, the newer head will be planned`,
      { cause },
    );
    this.sha = sha;
  }
}

/** git could not fetch from the remote (network, auth, timeout); worth retrying later. */
export class FetchFailedError extends AirlockError {
  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super('airlock:fetch-failed', message, options);
  }
}

/** The mirror or the export directory is not usable, or git failed while reading the mirror. */
export class CheckoutFailedError extends AirlockError {
  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super('airlock:checkout-failed', message, options);
  }
}

/** A remote URL from the config that git could misread (leading `-`, control characters, empty). */
export class BadRemoteUrlError extends AirlockError {
  constructor(shownUrl: string) {
    super('airlock:bad-remote-url', `remote URL ${JSON.stringify(shownUrl)} cannot be used: it is empty, starts with "-" or contains control characters`, {
      hint: 'Fix the repository URL in the runner config.',
    });
  }
}
