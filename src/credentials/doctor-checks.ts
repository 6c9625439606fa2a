// `airlock doctor` for Vault: reachability and seal status, then for every identity a login, its token
// TTL against the engine timeouts, its mapped secrets, and for a plan identity a real read of each of
// the apply identity's paths that must come back 403. Every token made here is revoked before returning.
import type { Check } from '../lib/check.ts';
import type { CredentialsSlice } from './config.ts';
import { scrubber } from '../log/scrub.ts';
import { formatSeconds, isSecretIdCreationPath, neededTtlMs, pathsToRead, secretFields, ttlShortfall, type Phase } from './credentials.ts';
import { VaultError } from './errors.ts';
import { endpointFor, listIdentities, type IdentityEntry } from './identities.ts';
import { readSecretIdFile } from './secret-id.ts';
import { createVaultClient, type VaultEndpoint, type VaultSession } from './vault-client.ts';

const LOOPBACK = /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\/?$/;

/** The Vault lines of `airlock doctor`. */
export async function checkVault({ config }: { config: CredentialsSlice }): Promise<Check[]> {
  const identities = listIdentities(config);
  if (!config.vault) {
    return identities.length === 0
      ? [{ name: 'vault', ok: true, detail: 'not configured; no workspace uses credentials' }]
      : [{ name: 'vault', ok: false, detail: `${identities[0]!.where} uses Vault identities, but there is no \`vault\` section`, fix: 'add `vault: { address: https://… }` to the runner config' }];
  }
  let endpoint: VaultEndpoint;
  try {
    endpoint = await endpointFor(config.vault);
  } catch (err) {
    return [{ name: 'vault', ok: false, detail: (err as Error).message, fix: (err as VaultError).hint }];
  }
  const checks: Check[] = [];
  if (process.env['NODE_TLS_REJECT_UNAUTHORIZED'] === '0') {
    checks.push({ name: 'vault tls', ok: false, detail: 'NODE_TLS_REJECT_UNAUTHORIZED=0 switches certificate checks off for the whole runner', fix: 'remove it from the runner\'s environment; give Vault\'s CA with `vault.caFile` instead' });
  }
  if (config.vault.address.startsWith('http://') && !LOOPBACK.test(config.vault.address)) {
    checks.push({ name: 'vault tls', ok: true, warn: true, detail: `${config.vault.address} is plain http: tokens and secrets would cross the network in clear`, fix: 'serve Vault over https and set `vault.caFile`' });
  }
  try {
    const health = await createVaultClient(endpoint, scrubber).health();
    if (health.sealed) return [...checks, { name: 'vault', ok: false, detail: `${endpoint.address} is sealed (${health.version})`, fix: 'unseal it: `vault operator unseal` / `bao operator unseal`' }];
    checks.push({ name: 'vault', ok: true, detail: `${endpoint.address} reachable, unsealed (${health.version}${health.standby ? ', standby' : ''})` });
  } catch (err) {
    return [...checks, { name: 'vault', ok: false, detail: (err as Error).message, fix: (err as VaultError).hint }];
  }
  for (const entry of identities) checks.push(...(await checkIdentity(config, endpoint, entry)));
  return checks;
}

async function checkIdentity(config: CredentialsSlice, endpoint: VaultEndpoint, e: IdentityEntry): Promise<Check[]> {
  const name = `vault ${e.repo}/${e.workspace} ${e.phase}`;
  const label = `the ${e.phase} identity of ${e.repo}/${e.workspace}`;
  const fail = (err: unknown): Check => ({ name, ok: false, detail: (err as Error).message, fix: (err as VaultError).hint });
  const client = createVaultClient(endpoint, scrubber, label);
  let secretId: string;
  try {
    secretId = await readSecretIdFile(e.identity.secretIdFile, label);
    scrubber.add(secretId);
  } catch (err) {
    return [fail(err)];
  }
  if (e.identity.wrapped) {
    // Unwrapping here would use up the token the runner needs; a lookup proves it is live and ours.
    try {
      const info = await client.lookupWrapping(secretId);
      if (!isSecretIdCreationPath(info.creationPath, e.identity.mount)) {
        return [{ name, ok: false, detail: `the wrapping token in ${e.identity.secretIdFile} was created at \`${info.creationPath}\`, not by AppRole`, fix: 'deliver a wrapped secret_id made by `auth/<mount>/role/<role>/secret-id`' }];
      }
      return [{ name, ok: true, warn: true, detail: `wrapped secret_id from ${info.creationPath} is live (wrapping TTL ${formatSeconds(info.ttlSeconds)}); login, TTL and paths not tested`, fix: 'unwrapping would use it up: start the runner to unwrap it, or check with an unwrapped secret_id' }];
    } catch (err) {
      return [fail(err)];
    }
  }
  let session: VaultSession;
  try {
    session = await client.login(e.identity.mount, e.identity.roleId, secretId);
  } catch (err) {
    return [fail(err)];
  }
  const checks: Check[] = [{ name, ok: true, detail: `logs in (policies ${session.login.policies.join(', ')}; token TTL ${formatSeconds(session.login.ttlSeconds)})` }];
  try {
    const needed = neededTtlMs(e.phase, config.engine.timeouts);
    const steps = e.phase === 'plan' ? 'init + plan + show' : 'apply';
    const short = ttlShortfall(session.login.ttlSeconds, needed);
    checks.push(
      short
        ? { name: `${name} ttl`, ok: false, detail: `token TTL ${short} (engine.timeouts ${steps}); dynamic leases end with the token`, fix: `raise token_ttl on the role to at least ${formatSeconds(Math.ceil(needed / 1000))}, or lower engine.timeouts` }
        : { name: `${name} ttl`, ok: true, detail: `token TTL ${session.login.ttlSeconds === 0 ? 'unlimited' : formatSeconds(session.login.ttlSeconds)} covers ${steps} (${formatSeconds(Math.ceil(needed / 1000))})` },
    );
    checks.push(await checkReads(session, e, `${name} secrets`));
    if (e.forbidden.length > 0) checks.push(await checkDenied(session, e.forbidden, `${name} isolation`));
  } finally {
    await session.revokeSelf().catch(() => undefined);
  }
  return checks;
}

async function checkReads(session: VaultSession, e: IdentityEntry, name: string): Promise<Check> {
  const paths = pathsToRead(e.identity.secrets);
  try {
    for (const path of paths) {
      const read = await session.read(path);
      if (read.leaseId) await session.revokeLease(read.leaseId).catch(() => undefined);
      const fields = secretFields(read.body)?.fields ?? {};
      for (const [env, ref] of Object.entries(e.identity.secrets)) {
        if (ref.path !== path) continue;
        const value = fields[ref.key];
        if (typeof value === 'string') scrubber.add(value);
        if (value === undefined || value === null) return { name, ok: false, detail: `\`${path}\` has no key \`${ref.key}\` (for ${env})`, fix: 'fix the key after `#` in the mapping, or add it to the secret' };
      }
    }
    return { name, ok: true, detail: paths.length ? `reads its ${Object.keys(e.identity.secrets).length} mapped secret(s) from ${paths.length} path(s)` : 'maps no secrets' };
  } catch (err) {
    return { name, ok: false, detail: (err as Error).message, fix: (err as VaultError).hint };
  }
}

// A real read with the plan token: Vault checks the ACL first, so only 403 proves the policy denies it.
async function checkDenied(session: VaultSession, paths: string[], name: string): Promise<Check> {
  const allowed: string[] = [];
  for (const path of paths) {
    try {
      const read = await session.read(path);
      if (read.leaseId) await session.revokeLease(read.leaseId).catch(() => undefined);
      allowed.push(`\`${path}\` (read succeeded)`);
    } catch (err) {
      if ((err as VaultError).status === 403) continue;
      if ((err as VaultError).status === 404) allowed.push(`\`${path}\` (404: the policy lets it look)`);
      else return { name, ok: false, detail: `could not probe \`${path}\`: ${(err as Error).message}`, fix: 'run doctor again once Vault answers' };
    }
  }
  return allowed.length
    ? { name, ok: false, detail: `the plan identity is NOT denied on the apply identity's ${allowed.join(', ')}; the plan phase runs the pull request's code`, fix: 'remove those paths from the plan role\'s policies (deploy/vault/airlock-plan.hcl)' }
    : { name, ok: true, detail: `denied (403) on all ${paths.length} of the apply identity's path(s)` };
}
