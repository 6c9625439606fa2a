// Per job: log in with that phase's identity, read the mapped secrets, hand them over as the engine
// child's only secret variables, and afterwards revoke the leases and then the token. A failure is
// reported once and never retried here, and a phase never borrows the other phase's identity.
import type { Logger } from 'pino';
import type { Run } from '../run/run.ts';
import { describeRun, RUNNER_ACTOR } from '../run/describe.ts';
import type { AuditInput } from '../audit/audit.ts';
import type { CredentialsSlice } from './config.ts';
import type { Scrubber } from '../log/scrub.ts';
import { envValue, formatSeconds, neededTtlMs, NO_CREDENTIALS, pathsToRead, secretFields, ttlShortfall, type Credentials, type Phase } from './credentials.ts';
import { missingKey, vaultNotConfigured, VaultError } from './errors.ts';
import { endpointFor, identityFor, listIdentities } from './identities.ts';
import { createSecretIdSource } from './secret-id.ts';
import { createVaultClient, type VaultSession } from './vault-client.ts';

export interface CredentialProviderOptions {
  log: Logger;
  scrubber: Scrubber;
  /** Where issue and revoke records go (the runner's audit chain). */
  audit?: { append(input: AuditInput): Promise<unknown> };
  /** Where the digests of wrapping tokens this runner unwrapped are kept (secret-id.ts); none: not kept. */
  spentDir?: string;
}

type RunLike = Pick<Run, 'id' | 'repo' | 'workspace'> & Partial<Run>;

/** Build the runner's credential provider from its config. */
export function createCredentialProvider(config: CredentialsSlice, options: CredentialProviderOptions) {
  const { log, scrubber } = options;
  const secretIds = createSecretIdSource(scrubber, options.spentDir ? { spentDir: options.spentDir } : {});

  async function record(input: AuditInput): Promise<void> {
    try {
      await options.audit?.append(input);
    } catch (err) {
      log.warn({ err, type: input.type }, 'could not write a credentials audit record');
    }
  }

  function subject(run: RunLike) {
    return run.state ? describeRun(run as Run) : { run: run.id };
  }

  async function issue(run: RunLike, phase: Phase): Promise<Credentials> {
    const { identity, where } = identityFor(config, run, phase);
    if (identity === 'none') return NO_CREDENTIALS;
    if (!config.vault) throw vaultNotConfigured(where);
    const label = `the ${phase} identity of ${run.repo}/${run.workspace}`;
    const client = createVaultClient(await endpointFor(config.vault), scrubber, label);
    const secretId = await secretIds.secretIdFor(identity, label, client);
    const session = await client.login(identity.mount, identity.roleId, secretId);
    const jobLog = log.child({ runId: run.id, phase, accessor: session.login.accessor });
    const leases: string[] = [];
    const release = once(() => revoke(session, leases, run, phase, jobLog));
    try {
      const env: Record<string, string> = {};
      for (const path of pathsToRead(identity.secrets)) {
        const read = await session.read(path);
        if (read.leaseId) leases.push(read.leaseId);
        const parsed = secretFields(read.body);
        for (const [name, ref] of Object.entries(identity.secrets)) {
          if (ref.path !== path) continue;
          const raw = parsed?.fields[ref.key];
          const value = envValue(raw);
          if (value === null) throw missingKey(ref.path, ref.key, label, raw !== undefined && raw !== null);
          scrubber.add(value);
          env[name] = value;
        }
        const short = read.leaseId ? ttlShortfall(read.leaseSeconds, neededTtlMs(phase, config.engine.timeouts)) : null;
        if (short) jobLog.warn({ path }, `the lease on ${path} may end before the ${phase} does: ${short}`);
      }
      const short = ttlShortfall(session.login.ttlSeconds, neededTtlMs(phase, config.engine.timeouts));
      if (short) jobLog.warn(`the ${phase} token may expire before the ${phase} ends (its leases go with it): ${short}; raise token_ttl on the role`);
      jobLog.info({ ttl: formatSeconds(session.login.ttlSeconds), leases: leases.length, variables: Object.keys(env) }, `${phase} credentials issued`);
      await record({
        type: 'credentials.issued',
        ...subject(run),
        actor: RUNNER_ACTOR,
        detail: { phase, accessor: session.login.accessor, policies: session.login.policies, ttlSeconds: session.login.ttlSeconds, leases: leases.length, variables: Object.keys(env).sort() },
      });
      return { env, release };
    } catch (err) {
      await release();
      throw err;
    }
  }

  /** Leases first, then the token (revoke-self also takes the token's leases). Never throws. */
  async function revoke(session: VaultSession, leases: string[], run: RunLike, phase: Phase, jobLog: Logger): Promise<void> {
    const problems: string[] = [];
    let reachable = true;
    for (const lease of leases) {
      try {
        await session.revokeLease(lease);
      } catch (err) {
        // A policy may not allow lease revocation; revoke-self below still ends the lease.
        problems.push(`lease ${lease}: ${(err as Error).message}`);
        if ((err as VaultError).status === undefined || (err as VaultError).status === 503) reachable = false;
        if (!reachable) break;
      }
    }
    let tokenRevoked = false;
    if (reachable) {
      try {
        await session.revokeSelf();
        tokenRevoked = true;
      } catch (err) {
        problems.push(`token: ${(err as Error).message}`);
      }
    }
    const { accessor, ttlSeconds } = session.login;
    if (tokenRevoked) jobLog.info({ leases: leases.length, problems: problems.length ? problems : undefined }, `${phase} credentials revoked`);
    else {
      jobLog.error(
        { problems },
        `could not revoke the ${phase} token; it expires on its own within ${formatSeconds(ttlSeconds)}. Revoke it now with \`vault token revoke -accessor ${accessor}\``,
      );
    }
    await record({ type: tokenRevoked ? 'credentials.revoked' : 'credentials.revoke_failed', ...subject(run), actor: RUNNER_ACTOR, detail: { phase, accessor, leases: leases.length, problems } });
  }

  return {
    /** The plan identity's read-only secrets (or none). Never the apply identity's. */
    forPlan: (run: RunLike) => issue(run, 'plan'),
    /** The apply identity's secrets. On failure the apply is refused: there is no fallback. */
    forApply: (run: RunLike) => issue(run, 'apply'),
    /** Unwrap response-wrapped secret_ids now, before their wrapping TTL runs out. Never throws. */
    async prepare(): Promise<void> {
      if (!config.vault) return;
      const endpoint = await endpointFor(config.vault).catch(() => null);
      if (!endpoint) return;
      for (const { repo, workspace, phase, identity } of listIdentities(config)) {
        if (!identity.wrapped) continue;
        const label = `the ${phase} identity of ${repo}/${workspace}`;
        await secretIds.secretIdFor(identity, label, createVaultClient(endpoint, scrubber, label)).catch((err: unknown) => {
          log.error({ err, alert: err instanceof VaultError && err.alert }, `cannot unwrap the secret_id of ${label}`);
        });
      }
    },
  };
}

export type VaultCredentialProvider = ReturnType<typeof createCredentialProvider>;

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | null = null;
  return () => (done ??= fn().catch(() => undefined));
}


export { assertVaultConfigured } from './identities.ts';
