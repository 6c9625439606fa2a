// The Gitea/Forgejo adapter, over REST API v1 with fetch (`Authorization: token …`). The same routes on
// both: /repos/{owner}/{repo}/statuses/{sha}, /issues/{index}/comments, /issues/comments/{id}, /pulls,
// /issues (list with type=issues, create) and /issues/{index} (edit: Gitea answers 201, not 200).
import { forgeErrorFrom, unreachable } from './errors.ts';
import { MAX_COMMENT_PAGES, MAX_ISSUE_PAGES, type CommitStatus, type Forge, type ForgeAccess, type ForgeComment, type ForgeIssue } from './forge.ts';
import type { ForgeTarget } from './github.ts';

interface GiteaPull {
  number: number;
  state: string;
  head?: { ref?: string; sha?: string };
}

export function createGiteaForge(target: ForgeTarget): Forge {
  const base = `${target.apiUrl}/api/v1/repos/${encodeURIComponent(target.owner)}/${encodeURIComponent(target.name)}`;
  const timeoutMs = target.timeoutMs ?? 15_000;

  async function call<T>(what: string, method: string, url: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: `token ${target.token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      throw unreachable(`Gitea ${what}`, err);
    }
    const text = await res.text().catch(() => '');
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (!res.ok) throw forgeErrorFrom(res.status, (n) => res.headers.get(n), parsed, `Gitea ${what}`);
    return parsed as T;
  }

  async function openPulls(): Promise<GiteaPull[]> {
    const all: GiteaPull[] = [];
    for (let page = 1; page <= MAX_COMMENT_PAGES; page++) {
      const batch = await call<GiteaPull[]>('list open PRs', 'GET', `${base}/pulls?state=open&limit=50&page=${page}`);
      all.push(...batch);
      if (batch.length < 50) break;
    }
    return all;
  }

  return {
    kind: 'gitea',
    async setStatus(sha: string, status: CommitStatus): Promise<void> {
      await call('create commit status', 'POST', `${base}/statuses/${encodeURIComponent(sha)}`, status);
    },
    async listComments(pr: number): Promise<ForgeComment[]> {
      const all: ForgeComment[] = [];
      for (let page = 1; page <= MAX_COMMENT_PAGES; page++) {
        const batch = await call<Array<{ id: number; body: string }>>('list PR comments', 'GET', `${base}/issues/${pr}/comments?limit=50&page=${page}`);
        all.push(...batch.map((c) => ({ id: c.id, body: c.body ?? '' })));
        if (batch.length < 50) break;
      }
      return all;
    },
    async createComment(pr: number, body: string): Promise<number> {
      return (await call<{ id: number }>('create PR comment', 'POST', `${base}/issues/${pr}/comments`, { body })).id;
    },
    async updateComment(id: number, body: string): Promise<void> {
      await call('update PR comment', 'PATCH', `${base}/issues/comments/${id}`, { body });
    },
    async pullsForCommit(sha: string): Promise<number[]> {
      return (await openPulls()).filter((p) => p.head?.sha === sha).map((p) => p.number);
    },
    async pullsForBranch(branch: string): Promise<number[]> {
      return (await openPulls()).filter((p) => p.head?.ref === branch).map((p) => p.number);
    },
    async listOpenIssues(): Promise<ForgeIssue[]> {
      const all: ForgeIssue[] = [];
      for (let page = 1; page <= MAX_ISSUE_PAGES; page++) {
        const batch = await call<Array<{ number: number; title?: string; body?: string; pull_request?: unknown }>>('list open issues', 'GET', `${base}/issues?state=open&type=issues&limit=50&page=${page}`);
        all.push(...batch.filter((i) => !i.pull_request).map((i) => ({ number: i.number, title: i.title ?? '', body: i.body ?? '' })));
        if (batch.length < 50) break;
      }
      return all;
    },
    async createIssue(title: string, body: string): Promise<number> {
      return (await call<{ number: number }>('create issue', 'POST', `${base}/issues`, { title, body })).number;
    },
    async updateIssue(issue: number, change: { body?: string; state?: 'open' | 'closed' }): Promise<void> {
      await call('update issue', 'PATCH', `${base}/issues/${issue}`, change);
    },
    async access(): Promise<ForgeAccess> {
      const repo = await call<{ permissions?: { admin?: boolean; push?: boolean } }>('read the repository', 'GET', base);
      const user = await call<{ login?: string }>('read the token user', 'GET', `${target.apiUrl}/api/v1/user`).catch(() => null);
      return { login: user?.login ?? null, push: repo.permissions?.push ?? null, admin: repo.permissions?.admin ?? null, scopes: null };
    },
  };
}
