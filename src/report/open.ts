// The forges of the runner config: one adapter per repo that has a `forge`, with its token read from a
// 0600 file and handed to the scrubber before anything could print it.
import { readTokenFile, resolveTokenFile } from '../approve/token-files.ts';
import type { Scrubber } from '../log/scrub.ts';
import type { ForgeConfig, ReportSlice } from './config.ts';
import type { Forge } from './forge.ts';
import { createGiteaForge } from './gitea.ts';

export interface OpenedForge {
  repo: string;
  config: ForgeConfig;
  forge: Forge;
  comment: boolean;
  driftIssue: boolean;
}

export async function openForge(config: ForgeConfig, configFile: string, scrubber: Scrubber): Promise<Forge> {
  const token = await readTokenFile(resolveTokenFile(config.tokenFile, configFile), scrubber, `the ${config.kind} token`);
  const target = { apiUrl: config.apiUrl, owner: config.owner, name: config.name, token };
  // @octokit/rest loads only for a GitHub forge.
  return config.kind === 'github' ? (await import('./github.ts')).createGitHubForge(target) : createGiteaForge(target);
}

/** Every configured forge; a bad token file throws (coded airlock:token-file) so the runner does not start half-configured. */
export async function openForges(slice: ReportSlice, scrubber: Scrubber): Promise<OpenedForge[]> {
  const opened: OpenedForge[] = [];
  for (const repo of slice.config.repos) {
    if (!repo.forge) continue;
    opened.push({ repo: repo.name, config: repo.forge, forge: await openForge(repo.forge, slice.file, scrubber), comment: repo.forge.comment, driftIssue: repo.forge.driftIssue });
  }
  return opened;
}
