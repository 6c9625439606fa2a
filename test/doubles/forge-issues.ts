// The issues part of the forge double (forge-double.ts): list, create and edit issues, as GitHub's REST
// API and Gitea/Forgejo's API v1 document them. Both number issues and pull requests in one sequence per
// repository and list pull requests among issues (GitHub: with a `pull_request` key; Gitea: with
// `pull_request` set, or filtered away with `type=issues`). Differences kept: GitHub answers an edit with
// 200 and Gitea with 201; an unknown state is 422 on GitHub and 412 on Gitea; GitHub limits bodies to 65536
// characters and answers 410 Gone when the repository has issues turned off (Gitea: 404).

export type IssueFlavor = 'github' | 'gitea';

export interface StoredIssue {
  repo: string;
  number: number;
  title: string;
  body: string;
  state: 'open' | 'closed';
  /** GitHub's `state_reason` (completed, not_planned, reopened); null while open. */
  stateReason: string | null;
  user: string;
  /** Every edit, in order: what changed (`body`, `state`, `title`). */
  edits: string[];
}

type Answer = [number, unknown];
type ErrorBody = (flavor: IssueFlavor, status: number, message: string, extra?: Record<string, unknown>, docs?: string) => unknown;

export function createIssueStore(error: ErrorBody, numbersInUse: (repo: string) => number[]) {
  const issues: StoredIssue[] = [];
  const disabled = new Set<string>();

  const shape = (flavor: IssueFlavor, i: StoredIssue) => ({
    id: 50_000 + i.number,
    number: i.number,
    title: i.title,
    body: i.body,
    state: i.state,
    user: { login: i.user },
    ...(flavor === 'github' ? { state_reason: i.stateReason } : { pull_request: null }),
  });

  /** Issues turned off: GitHub 410 Gone, Gitea/Forgejo 404. */
  function off(flavor: IssueFlavor): Answer {
    return flavor === 'github' ? [410, error('github', 410, 'Issues are disabled for this repo', {}, 'https://docs.github.com/v3/issues/')] : [404, error('gitea', 404, 'Not Found')];
  }

  function validBody(flavor: IssueFlavor, body: unknown): Answer | null {
    if (body !== undefined && typeof body !== 'string') return [422, error(flavor, 422, 'Validation Failed', { errors: [{ resource: 'Issue', code: 'invalid', field: 'body' }] })];
    if (flavor === 'github' && typeof body === 'string' && body.length > 65_536) {
      return [422, error('github', 422, 'Validation Failed', { errors: [{ resource: 'Issue', code: 'custom', field: 'body', message: 'body is too long (maximum is 65536 characters)' }] })];
    }
    return null;
  }

  return {
    issues,
    disabled,
    isIssue: (repo: string, n: number) => issues.some((i) => i.repo === repo && i.number === n),

    /** GET …/issues: `pulls` are the repo's PRs, which both forges list among issues unless Gitea's `type=issues` says not to. */
    list(flavor: IssueFlavor, repo: string, u: URL, pulls: Array<{ number: number; state: string }>): Answer {
      if (disabled.has(repo)) return off(flavor);
      const state = u.searchParams.get('state') ?? 'open';
      const type = flavor === 'gitea' ? u.searchParams.get('type') : null;
      const wanted = (s: string) => state === 'all' || s === state;
      const own = type === 'pulls' ? [] : issues.filter((i) => i.repo === repo && wanted(i.state)).map((i) => shape(flavor, i));
      const prs = type === 'issues' ? [] : pulls.filter((p) => wanted(p.state)).map((p) => ({ number: p.number, title: `PR ${p.number}`, body: '', state: p.state, pull_request: { merged: false } }));
      // Newest first, as both sort by creation by default.
      const all = [...own, ...prs].sort((a, b) => b.number - a.number);
      const size = Number(u.searchParams.get(flavor === 'github' ? 'per_page' : 'limit') ?? (flavor === 'github' ? 30 : 50));
      const page = Number(u.searchParams.get('page') ?? 1);
      return [200, all.slice((page - 1) * size, page * size)];
    },

    create(flavor: IssueFlavor, repo: string, body: Record<string, unknown>, user: string): Answer {
      if (disabled.has(repo)) return off(flavor);
      const title = body['title'];
      if (typeof title !== 'string' || title.trim() === '') {
        return [422, flavor === 'github' ? error('github', 422, 'Validation Failed', { errors: [{ resource: 'Issue', code: 'missing_field', field: 'title' }] }) : error('gitea', 422, '[Title]: Required')];
      }
      const bad = validBody(flavor, body['body']);
      if (bad) return bad;
      const number = Math.max(0, ...numbersInUse(repo), ...issues.filter((i) => i.repo === repo).map((i) => i.number)) + 1;
      const issue: StoredIssue = { repo, number, title, body: typeof body['body'] === 'string' ? body['body'] : '', state: 'open', stateReason: null, user, edits: [] };
      issues.push(issue);
      return [201, shape(flavor, issue)];
    },

    edit(flavor: IssueFlavor, repo: string, n: number, body: Record<string, unknown>): Answer {
      if (disabled.has(repo)) return off(flavor);
      const issue = issues.find((i) => i.repo === repo && i.number === n);
      if (!issue) return [404, error(flavor, 404, 'Not Found')];
      const state = body['state'];
      if (state !== undefined && state !== 'open' && state !== 'closed') {
        return flavor === 'github' ? [422, error('github', 422, 'Validation Failed', { errors: [{ resource: 'Issue', code: 'invalid', field: 'state' }] })] : [412, error('gitea', 412, `unknown state: ${String(state)}`)];
      }
      const bad = validBody(flavor, body['body']);
      if (bad) return bad;
      if (typeof body['title'] === 'string' && body['title'] !== '') {
        issue.title = body['title'];
        issue.edits.push('title');
      }
      if (typeof body['body'] === 'string') {
        issue.body = body['body'];
        issue.edits.push('body');
      }
      if (state !== undefined && state !== issue.state) {
        issue.state = state;
        issue.stateReason = state === 'closed' ? (typeof body['state_reason'] === 'string' ? body['state_reason'] : 'completed') : 'reopened';
        issue.edits.push('state');
      }
      return [flavor === 'github' ? 200 : 201, shape(flavor, issue)];
    },
  };
}
