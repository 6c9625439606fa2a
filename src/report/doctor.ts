// `airlock doctor` for forges: the token file is safe and works, the token can see the repo and write
// to it, and (where the forge says so) it cannot do more than reporting needs.
import type { Check } from '../lib/check.ts';
import type { Scrubber } from '../log/scrub.ts';
import type { ReportSlice } from './config.ts';
import { openForge } from './open.ts';

const BROAD_SCOPES = ['repo', 'admin:org', 'admin:repo_hook', 'delete_repo', 'workflow', 'write:packages', 'admin:public_key'];

export async function checkForges(slice: ReportSlice, scrubber: Scrubber): Promise<Check[]> {
  const checks: Check[] = [];
  for (const repo of slice.config.repos) {
    if (!repo.forge) continue;
    const name = `forge ${repo.name}`;
    const where = `${repo.forge.kind} ${repo.forge.owner}/${repo.forge.name}`;
    try {
      const access = await (await openForge(repo.forge, slice.file, scrubber)).access();
      const excess: string[] = [];
      if (access.admin) excess.push('it can administer the repo');
      const broad = (access.scopes ?? []).filter((s) => BROAD_SCOPES.includes(s));
      if (broad.length) excess.push(`it is a classic token with ${broad.join(', ')}`);
      if (access.push === false && repo.forge.kind === 'gitea') {
        checks.push({ name, ok: false, detail: `${where}: the token can read the repo but not write to it; commit statuses need write`, fix: 'make a token with write:repository and write:issue for a user with write access to this repo' });
        continue;
      }
      const who = access.login ? ` as ${access.login}` : '';
      if (excess.length) {
        checks.push({ name, ok: true, warn: true, detail: `${where}: works${who}, but ${excess.join(' and ')}: more than reporting needs`, fix: repo.forge.kind === 'github' ? 'use a fine-grained token on this repo only, with "Commit statuses: write" and "Pull requests: write"' : 'use a user with write (not admin) access and a token scoped write:repository, write:issue' });
      } else {
        checks.push({ name, ok: true, detail: `${where}: works${who}; write access is proven by the first status posted` });
      }
    } catch (err) {
      const e = err as Error & { hint?: string };
      checks.push({ name, ok: false, detail: `${where}: ${e.message}`, fix: e.hint });
    }
  }
  return checks;
}
