// Forges under test: the double for both flavors, or a real Gitea/Forgejo when AIRLOCK_TEST_FORGE_URL
// (or AIRLOCK_TEST_GITEA_URL) points at one, with a token, a repo and an open PR on it.
import { startForgeDouble, type ForgeDouble } from '../doubles/forge-double.ts';
import { createGiteaForge } from '../../src/report/gitea.ts';
import { createGitHubForge } from '../../src/report/github.ts';
import type { Forge } from '../../src/report/forge.ts';

export const TOKEN = 'forge-token-canary-7e1b5c9d2a';
export const READ_ONLY = 'forge-readonly-token-1f2e3d4c';
export const ADMIN = 'forge-admin-token-9a8b7c6d';
export const REPO = 'acme/infra';
export const SHA = 'a'.repeat(40);
export const SHA2 = 'b'.repeat(40);

export async function forgeDouble(): Promise<ForgeDouble> {
  const d = await startForgeDouble({
    tokens: {
      [TOKEN]: { user: 'airlock-bot', repos: { [REPO]: { push: true } } },
      [READ_ONLY]: { user: 'reader', repos: { [REPO]: { push: false } } },
      [ADMIN]: { user: 'admin', repos: { [REPO]: { push: true, admin: true } }, scopes: ['repo', 'workflow'] },
    },
  });
  d.addPull(REPO, 7, SHA, 'agent/change');
  d.addPull(REPO, 8, SHA, 'agent/same-head');
  return d;
}

export function adapterFor(kind: 'github' | 'gitea', d: ForgeDouble, token = TOKEN, repo = REPO): Forge {
  const [owner, name] = repo.split('/') as [string, string];
  const target = { apiUrl: kind === 'github' ? d.githubApi : d.giteaUrl, owner, name, token, timeoutMs: 5_000 };
  return kind === 'github' ? createGitHubForge(target) : createGiteaForge(target);
}

/** A real Gitea/Forgejo: URL, token (write:repository, write:issue), `owner/name`, an open PR and its head sha. */
export const realForge = (() => {
  const url = process.env['AIRLOCK_TEST_FORGE_URL'] ?? process.env['AIRLOCK_TEST_GITEA_URL'];
  const token = process.env['AIRLOCK_TEST_FORGE_TOKEN'] ?? process.env['AIRLOCK_TEST_GITEA_TOKEN'];
  const repo = process.env['AIRLOCK_TEST_FORGE_REPO'];
  const pr = Number(process.env['AIRLOCK_TEST_FORGE_PR']);
  const sha = process.env['AIRLOCK_TEST_FORGE_SHA'];
  if (!url) return { skip: 'AIRLOCK_TEST_FORGE_URL is not set: no real Gitea/Forgejo to test against (the double covers these paths)' as const };
  if (!token || !repo || !pr || !sha) return { skip: 'AIRLOCK_TEST_FORGE_URL is set but AIRLOCK_TEST_FORGE_TOKEN, _REPO (owner/name), _PR and _SHA (its head) are not all set' as const };
  const [owner, name] = repo.split('/') as [string, string];
  return { skip: false as const, url, pr, sha, forge: createGiteaForge({ apiUrl: url.replace(/\/+$/, ''), owner, name, token }), badToken: createGiteaForge({ apiUrl: url, owner, name, token: 'not-a-token' }) };
})();
