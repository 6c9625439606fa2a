// The narrow interface every forge adapter offers the reporter: a commit status, the comments of a PR,
// which PRs a commit or branch belongs to, and the one living issue per workspace that drift checks keep.
// Nothing else is ever asked of a forge.
export type StatusState = 'pending' | 'success' | 'failure' | 'error';

export interface CommitStatus {
  state: StatusState;
  /** `airlock/<workspace>`. */
  context: string;
  /** Plain text, at most 140 characters (GitHub's limit). */
  description: string;
}

export interface ForgeComment {
  id: number;
  body: string;
}

/** An open issue (never a pull request, which both forges also list as issues). */
export interface ForgeIssue {
  number: number;
  title: string;
  body: string;
}

/** What `airlock doctor` can learn about the token without writing anything. */
export interface ForgeAccess {
  /** The token's user, when the forge says. */
  login: string | null;
  /** Can write to the repo (statuses need it on Gitea/Forgejo; GitHub fine-grained tokens do not report it). */
  push: boolean | null;
  /** Can administer the repo: more than reporting needs. */
  admin: boolean | null;
  /** Classic GitHub token scopes (`x-oauth-scopes`); null for fine-grained and Gitea tokens. */
  scopes: string[] | null;
}

export interface Forge {
  readonly kind: 'github' | 'gitea';
  setStatus(sha: string, status: CommitStatus): Promise<void>;
  /** Every comment of the PR (all pages, up to a bound). */
  listComments(pr: number): Promise<ForgeComment[]>;
  /** On a PR or an issue: both forges comment on either through the issue routes. */
  createComment(pr: number, body: string): Promise<number>;
  updateComment(id: number, body: string): Promise<void>;
  /** Open PRs whose head is this commit. */
  pullsForCommit(sha: string): Promise<number[]>;
  /** Open PRs whose head branch is `branch` (for runs seen on `refs/heads/...`). */
  pullsForBranch(branch: string): Promise<number[]>;
  access(): Promise<ForgeAccess>;
  /** Open issues of the repo, pull requests left out (all pages, up to a bound). */
  listOpenIssues(): Promise<ForgeIssue[]>;
  createIssue(title: string, body: string): Promise<number>;
  /** Edit an issue's body, close or reopen it. */
  updateIssue(issue: number, change: { body?: string; state?: 'open' | 'closed' }): Promise<void>;
}

/** GitHub's limits: status descriptions (422 past 140) and comment bodies (422 past 65536). */
export const STATUS_DESCRIPTION_MAX = 140;
export const COMMENT_BODY_MAX = 65_536;
/** Pages of comments read to find our marker: 10 × 100 comments. */
export const MAX_COMMENT_PAGES = 10;
/** Pages of open issues read to find a drift issue's marker. */
export const MAX_ISSUE_PAGES = 10;
