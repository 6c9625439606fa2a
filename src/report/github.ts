// The GitHub adapter, with @octokit/rest (REST v3: statuses, issue comments, PRs of a commit). No retry or
// throttling plugin: the reporter's queue owns retries, so a forge outage never holds up anything else.
import { Octokit } from '@octokit/rest';
import { forgeErrorFrom, ForgeError, unreachable } from './errors.ts';
import { MAX_COMMENT_PAGES, MAX_ISSUE_PAGES, type CommitStatus, type Forge, type ForgeAccess, type ForgeComment, type ForgeIssue } from './forge.ts';

export interface ForgeTarget {
  apiUrl: string;
  owner: string;
  name: string;
  token: string;
  /** Per-request limit; default 15 s. */
  timeoutMs?: number;
}

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export function createGitHubForge(target: ForgeTarget): Forge {
  const octokit = new Octokit({ auth: target.token, baseUrl: target.apiUrl, log: silent, userAgent: 'airlock-runner' });
  const repo = { owner: target.owner, repo: target.name };
  const timeoutMs = target.timeoutMs ?? 15_000;

  async function call<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await fn(AbortSignal.timeout(timeoutMs));
    } catch (err) {
      throw fromOctokit(what, err);
    }
  }

  return {
    kind: 'github',
    async setStatus(sha: string, status: CommitStatus): Promise<void> {
      await call('create commit status', (signal) => octokit.rest.repos.createCommitStatus({ ...repo, sha, ...status, request: { signal } }));
    },
    async listComments(pr: number): Promise<ForgeComment[]> {
      const all: ForgeComment[] = [];
      for (let page = 1; page <= MAX_COMMENT_PAGES; page++) {
        const { data } = await call('list PR comments', (signal) => octokit.rest.issues.listComments({ ...repo, issue_number: pr, per_page: 100, page, request: { signal } }));
        all.push(...data.map((c) => ({ id: c.id, body: c.body ?? '' })));
        if (data.length < 100) break;
      }
      return all;
    },
    async createComment(pr: number, body: string): Promise<number> {
      const { data } = await call('create PR comment', (signal) => octokit.rest.issues.createComment({ ...repo, issue_number: pr, body, request: { signal } }));
      return data.id;
    },
    async updateComment(id: number, body: string): Promise<void> {
      await call('update PR comment', (signal) => octokit.rest.issues.updateComment({ ...repo, comment_id: id, body, request: { signal } }));
    },
    async pullsForCommit(sha: string): Promise<number[]> {
      const { data } = await call('list PRs of a commit', (signal) => octokit.rest.repos.listPullRequestsAssociatedWithCommit({ ...repo, commit_sha: sha, per_page: 100, request: { signal } }));
      return data.filter((p) => p.state === 'open' && p.head.sha === sha).map((p) => p.number);
    },
    async pullsForBranch(branch: string): Promise<number[]> {
      const { data } = await call('list PRs of a branch', (signal) => octokit.rest.pulls.list({ ...repo, state: 'open', head: `${target.owner}:${branch}`, per_page: 100, request: { signal } }));
      return data.map((p) => p.number);
    },
    async listOpenIssues(): Promise<ForgeIssue[]> {
      const all: ForgeIssue[] = [];
      for (let page = 1; page <= MAX_ISSUE_PAGES; page++) {
        const { data } = await call('list open issues', (signal) => octokit.rest.issues.listForRepo({ ...repo, state: 'open', per_page: 100, page, request: { signal } }));
        // GitHub lists pull requests as issues too; they carry a `pull_request` key.
        all.push(...data.filter((i) => !i.pull_request).map((i) => ({ number: i.number, title: i.title, body: i.body ?? '' })));
        if (data.length < 100) break;
      }
      return all;
    },
    async createIssue(title: string, body: string): Promise<number> {
      const { data } = await call('create issue', (signal) => octokit.rest.issues.create({ ...repo, title, body, request: { signal } }));
      return data.number;
    },
    async updateIssue(issue: number, change: { body?: string; state?: 'open' | 'closed' }): Promise<void> {
      const reason = change.state === 'closed' ? { state_reason: 'completed' as const } : {};
      await call('update issue', (signal) => octokit.rest.issues.update({ ...repo, issue_number: issue, ...change, ...reason, request: { signal } }));
    },
    async access(): Promise<ForgeAccess> {
      const { data, headers } = await call('read the repository', (signal) => octokit.rest.repos.get({ ...repo, request: { signal } }));
      const scopes = headers['x-oauth-scopes'];
      let login: string | null = null;
      try {
        login = (await call('read the token user', (signal) => octokit.rest.users.getAuthenticated({ request: { signal } }))).data.login;
      } catch {
        // Fine-grained tokens and app tokens may not read /user; the login is only informative.
      }
      return {
        login,
        push: data.permissions?.push ?? null,
        admin: data.permissions?.admin ?? null,
        scopes: typeof scopes === 'string' ? scopes.split(',').map((s) => s.trim()).filter(Boolean) : null,
      };
    },
  };
}

/** Octokit's RequestError (status, response headers and body) as a coded ForgeError; never its request (which holds the token). */
function fromOctokit(what: string, err: unknown): ForgeError {
  if (err instanceof ForgeError) return err;
  const e = err as { status?: number; response?: { headers?: Record<string, string | number | undefined>; data?: unknown }; name?: string };
  if (typeof e.status !== 'number' || !e.response) return unreachable(what, err);
  const headers = e.response.headers ?? {};
  return forgeErrorFrom(e.status, (n) => (headers[n] === undefined ? null : String(headers[n])), e.response.data, `GitHub ${what}`);
}
