// Where each workspace's identities are in the runner config, and the Vault endpoint they log in at.
import { readFile } from 'node:fs/promises';
import type { Run } from '../run/run.ts';
import type { CredentialsSlice } from './config.ts';
import { AirlockError } from '../errors.ts';
import type { IdentityConfig, VaultConfig } from './config.ts';
import { pathsToRead, type Phase } from './credentials.ts';
import { vaultNotConfigured, VaultError } from './errors.ts';
import type { VaultEndpoint } from './vault-client.ts';

/** The identity a run's workspace uses for `phase`, or `none`; `where` names the config key for messages. */
export function identityFor(config: CredentialsSlice, run: Pick<Run, 'repo' | 'workspace'>, phase: Phase): { identity: IdentityConfig | 'none'; where: string } {
  const r = config.repos.findIndex((x) => x.name === run.repo);
  const w = r < 0 ? -1 : config.repos[r]!.workspaces.findIndex((x) => x.name === run.workspace);
  if (w < 0) throw new AirlockError('airlock:workspace-unknown', `workspace ${run.repo}/${run.workspace} is no longer in the runner config`);
  const creds = config.repos[r]!.workspaces[w]!.credentials;
  const where = `repos[${r}].workspaces[${w}].credentials`;
  return { identity: creds === 'none' ? 'none' : creds[phase], where };
}

/** The endpoint of the configured Vault; the CA file is re-read per job so it can be rotated. */
export async function endpointFor(vault: VaultConfig): Promise<VaultEndpoint> {
  let ca: string | undefined;
  if (vault.caFile) {
    try {
      ca = await readFile(vault.caFile, 'utf8');
    } catch (err) {
      throw new VaultError('airlock:vault-ca-file', `cannot read \`vault.caFile\` ${vault.caFile} (${(err as NodeJS.ErrnoException).code})`, {
        hint: 'Point `vault.caFile` at the PEM bundle that signed Vault\'s certificate, readable by the runner user.',
      });
    }
  }
  return { address: vault.address, namespace: vault.namespace, ca, timeoutMs: vault.timeout };
}

/** Refuse a config whose workspaces use Vault identities without a `vault` section. */
export function assertVaultConfigured(config: CredentialsSlice): void {
  const first = listIdentities(config)[0];
  if (!config.vault && first) throw vaultNotConfigured(first.where);
}

export interface IdentityEntry {
  repo: string;
  workspace: string;
  phase: Phase;
  identity: IdentityConfig;
  /** For a plan identity: the apply identity's paths it must be denied. */
  forbidden: string[];
  where: string;
}

/** Every identity of the config, with what a plan identity must not reach. */
export function listIdentities(config: CredentialsSlice): IdentityEntry[] {
  const out: IdentityEntry[] = [];
  config.repos.forEach((repo, r) =>
    repo.workspaces.forEach((ws, w) => {
      const c = ws.credentials;
      if (c === 'none') return;
      const applyPaths = c.apply === 'none' ? [] : pathsToRead(c.apply.secrets);
      for (const phase of ['plan', 'apply'] as const) {
        const identity = c[phase];
        if (identity !== 'none') out.push({ repo: repo.name, workspace: ws.name, phase, identity, forbidden: phase === 'plan' ? applyPaths : [], where: `repos[${r}].workspaces[${w}].credentials` });
      }
    }),
  );
  return out;
}
