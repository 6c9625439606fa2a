// The only module that imports node-vault. Every client is built fresh for one identity and one job,
// with the address, namespace and token passed explicitly: node-vault would otherwise pick up
// VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_PREFIX and VAULT_SKIP_VERIFY from the runner's
// environment, and would keep X-Vault-Token in a shared headers object between identities.
import { Agent } from 'node:http';
import { createRequire } from 'node:module';
import type NodeVault from 'node-vault';
import type { Scrubber } from '../log/scrub.ts';
import { classifyVaultFailure, type VaultContext, type VaultError } from './errors.ts';

export interface VaultEndpoint {
  address: string;
  namespace?: string | undefined;
  /** PEM text of the CA bundle that signed Vault's certificate. */
  ca?: string | undefined;
  timeoutMs: number;
}

export interface VaultLogin {
  accessor: string;
  policies: string[];
  ttlSeconds: number;
  renewable: boolean;
}

export interface VaultRead {
  body: unknown;
  /** Empty for KV, set for dynamic secrets. */
  leaseId: string;
  leaseSeconds: number;
}

export interface VaultHealth {
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  version: string;
}

/** A logged-in client: one token, one identity, one job. */
export interface VaultSession {
  readonly login: VaultLogin;
  read(path: string): Promise<VaultRead>;
  revokeLease(leaseId: string): Promise<void>;
  revokeSelf(): Promise<void>;
}

type Client = ReturnType<typeof NodeVault>;

// node-vault and its HTTP stack (~20 MB) load at the first Vault call, not with every runner: most have no Vault.
let nodeVault: typeof NodeVault | undefined;

function newClient(endpoint: VaultEndpoint, token: string): Client {
  nodeVault ??= createRequire(import.meta.url)('node-vault') as typeof NodeVault;
  const client = nodeVault({
    apiVersion: 'v1',
    endpoint: endpoint.address,
    // Its debug output prints request bodies, secret ids included.
    debug: () => undefined,
    // Own agents without keep-alive: a client lives for one job, and a pooled socket from a Vault that
    // restarted in between would fail the next job with ECONNRESET.
    requestOptions: { httpAgent: new Agent({ keepAlive: false }), agentOptions: { keepAlive: false }, ...(endpoint.ca ? { ca: endpoint.ca } : {}) },
    rpDefaults: { strictSSL: true, timeout: endpoint.timeoutMs },
  } as Parameters<typeof NodeVault>[0]);
  // Options that are empty fall back to the environment inside node-vault; set them after construction.
  client.endpoint = endpoint.address.replace(/\/$/, '');
  client.token = token;
  (client as unknown as { namespace: string }).namespace = endpoint.namespace ?? '';
  (client as unknown as { pathPrefix: string }).pathPrefix = '';
  return client;
}

/**
 * Translate a node-vault or network failure. The raw error is dropped because it carries request headers
 * and bodies; Vault's own words are kept but scrubbed, in case a server echoes what it was sent.
 */
export function toVaultError(err: unknown, ctx: VaultContext, scrubber: Scrubber): VaultError {
  const e = err as { response?: { statusCode?: number; body?: unknown }; code?: string; message?: string };
  const status = e.response?.statusCode;
  if (typeof status !== 'number') return classifyVaultFailure({ network: e.code ?? e.message ?? 'no response' }, ctx);
  const body = e.response?.body as { errors?: unknown; data?: { metadata?: { version?: unknown } } } | undefined;
  const errors = Array.isArray(body?.errors) ? body.errors.filter((x): x is string => typeof x === 'string').map((x) => scrubber.scrubString(x)) : undefined;
  const version = body?.data?.metadata?.version;
  return classifyVaultFailure({ status, errors, deletedVersion: typeof version === 'number' ? version : undefined }, ctx);
}

/** Vault at one address, for one identity label (used in messages). */
export function createVaultClient(endpoint: VaultEndpoint, scrubber: Scrubber, identity?: string) {
  async function call<T>(ctx: VaultContext, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toVaultError(err, ctx, scrubber);
    }
  }
  const ctx = (op: VaultContext['op'], path?: string): VaultContext => ({ op, address: endpoint.address, ...(identity ? { identity } : {}), ...(path ? { path } : {}) });

  return {
    /** AppRole login: a fresh client that holds the new token and nothing else. */
    async login(mount: string, roleId: string, secretId: string): Promise<VaultSession> {
      scrubber.add(secretId);
      const client = newClient(endpoint, '');
      const res = await call(ctx('login', `auth/${mount}`), () => client.approleLogin({ mount_point: mount, role_id: roleId, secret_id: secretId }));
      const auth = (res as { auth?: { client_token?: unknown; accessor?: unknown; policies?: unknown; lease_duration?: unknown; renewable?: unknown } }).auth;
      if (typeof auth?.client_token !== 'string' || auth.client_token === '') {
        throw classifyVaultFailure({ status: 502, errors: ['the login answer carried no client_token'] }, ctx('login'));
      }
      scrubber.add(auth.client_token);
      client.token = auth.client_token;
      const login: VaultLogin = {
        accessor: typeof auth.accessor === 'string' ? auth.accessor : '',
        policies: Array.isArray(auth.policies) ? auth.policies.map(String) : [],
        ttlSeconds: typeof auth.lease_duration === 'number' ? auth.lease_duration : 0,
        renewable: auth.renewable === true,
      };
      return {
        login,
        async read(path) {
          const body = (await call(ctx('read', path), () => client.read(path))) as { lease_id?: unknown; lease_duration?: unknown };
          return { body, leaseId: typeof body?.lease_id === 'string' ? body.lease_id : '', leaseSeconds: typeof body?.lease_duration === 'number' ? body.lease_duration : 0 };
        },
        async revokeLease(leaseId) {
          // The path form lets a policy allow revoking this identity's own leases and nothing else.
          await call(ctx('revoke', `sys/leases/revoke/${leaseId}`), () => client.write(`sys/leases/revoke/${leaseId}`, {}));
        },
        async revokeSelf() {
          await call(ctx('revoke', 'auth/token/revoke-self'), () => client.tokenRevokeSelf());
        },
      };
    },

    /** Where a wrapping token came from, without using it up. */
    async lookupWrapping(wrappingToken: string): Promise<{ creationPath: string; creationTime: string; ttlSeconds: number }> {
      scrubber.add(wrappingToken);
      const client = newClient(endpoint, '');
      const res = (await call(ctx('lookup-wrapping'), () => client.write('sys/wrapping/lookup', { token: wrappingToken }))) as {
        data?: { creation_path?: unknown; creation_time?: unknown; creation_ttl?: unknown };
      };
      return {
        creationPath: String(res?.data?.creation_path ?? ''),
        creationTime: String(res?.data?.creation_time ?? ''),
        ttlSeconds: Number(res?.data?.creation_ttl ?? 0),
      };
    },

    /** Unwrap once: the wrapping token is sent as X-Vault-Token, with no body. */
    async unwrap(wrappingToken: string): Promise<unknown> {
      scrubber.add(wrappingToken);
      const client = newClient(endpoint, wrappingToken);
      return call(ctx('unwrap'), () => client.unwrap());
    },

    /** Seal status and version; a sealed Vault answers 503 here with a body, not an error. */
    async health(): Promise<VaultHealth> {
      const client = newClient(endpoint, '');
      const body = (await call(ctx('health'), () => client.health({ standbyok: true }))) as Partial<VaultHealth> | undefined;
      return {
        initialized: body?.initialized === true,
        sealed: body?.sealed !== false,
        standby: body?.standby === true,
        version: typeof body?.version === 'string' ? body.version : 'unknown',
      };
    },
  };
}

export type VaultClient = ReturnType<typeof createVaultClient>;
