// Which Vault the credential tests drive: the in-process double by default, a real Vault/OpenBao dev
// server when AIRLOCK_TEST_VAULT_ADDR and AIRLOCK_TEST_VAULT_TOKEN (a root token) are set; prepare that
// server once with deploy/vault/setup-test-server.sh. Everything is set up through the HTTP API with the
// root token, under names unique to the test, so both run the same code and nothing is shared.
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { VaultDouble } from '../doubles/vault-double.ts';

export const KV2 = 'airlock-kv2';
export const KV1 = 'airlock-kv1';
export const DB = 'airlock-db';

export interface VaultUnderTest {
  address: string;
  rootToken: string;
  /** The double, or null against a real server (tests that need its switches skip then). */
  double: VaultDouble | null;
  api(method: string, apiPath: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export const realVault = process.env['AIRLOCK_TEST_VAULT_ADDR'] ?? '';

/** Start the double, or connect to the real server named by the environment. */
export async function vaultForTests(): Promise<VaultUnderTest> {
  const double = realVault ? null : await VaultDouble.start();
  const address = double?.address ?? realVault.replace(/\/$/, '');
  const rootToken = double?.rootToken ?? process.env['AIRLOCK_TEST_VAULT_TOKEN'] ?? '';
  if (!rootToken) throw new Error('AIRLOCK_TEST_VAULT_ADDR is set: set AIRLOCK_TEST_VAULT_TOKEN to a root token too (see deploy/vault/setup-test-server.sh)');
  const api: VaultUnderTest['api'] = async (method, apiPath, body, headers = {}) => {
    const res = await fetch(`${address}/v1/${apiPath}`, {
      method,
      headers: { 'X-Vault-Token': rootToken, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const ensureMount = async (mount: string, spec: unknown) => {
    const r = await api('POST', `sys/mounts/${mount}`, spec);
    if (r.status >= 300 && !JSON.stringify(r.body).includes('already in use')) throw new Error(`mount ${mount}: ${r.status} ${JSON.stringify(r.body)}`);
  };
  const approle = await api('POST', 'sys/auth/approle', { type: 'approle' });
  if (approle.status >= 300 && !JSON.stringify(approle.body).includes('already in use')) throw new Error(`approle: ${approle.status} ${JSON.stringify(approle.body)}`);
  await ensureMount(KV2, { type: 'kv', options: { version: '2' } });
  await ensureMount(KV1, { type: 'kv', options: { version: '1' } });
  if (double) await ensureMount(DB, { type: 'database' });
  return { address, rootToken, double, api, close: async () => double?.close() };
}

/** The Vault under test for one test: `defer` undoes what the test set up, newest first, before it closes. */
export async function vaultScope(t: { after(fn: () => Promise<void>): void }): Promise<{ vault: VaultUnderTest; defer(fn: () => Promise<unknown>): void }> {
  const vault = await vaultForTests();
  const undo: Array<() => Promise<unknown>> = [];
  t.after(async () => {
    for (const fn of undo.reverse()) await fn().catch(() => undefined);
    await vault.close();
  });
  return { vault, defer: (fn) => void undo.push(fn) };
}

export interface IdentitySetup {
  role: string;
  roleId: string;
  policy: string;
}

export interface Scenario {
  id: string;
  dir: string;
  plan: IdentitySetup;
  apply: IdentitySetup;
  /** The plan and apply secret values, and a canary only the apply identity can read. */
  values: { planToken: string; applyToken: string; kv1Password: string; canary: string };
  /** Issue a secret_id for a phase and write it (or a wrapping token for it) to a 0600 file. */
  secretIdFile(phase: 'plan' | 'apply', opts?: { wrapped?: boolean; numUses?: number; ttl?: string; name?: string }): Promise<string>;
  issueSecretId(phase: 'plan' | 'apply', opts?: { wrapped?: boolean; numUses?: number; ttl?: string }): Promise<string>;
  /** Live tokens issued to this scenario's roles. */
  liveTokens(): Promise<string[]>;
  /** Live leases of this scenario's dynamic role (always empty against a real server). */
  liveLeases(): Promise<string[]>;
  cleanup(): Promise<void>;
}

/** Policies, roles and secrets for one test: a read-only plan identity and a separate apply identity. */
export async function createScenario(vault: VaultUnderTest, opts: { tokenTtl?: string } = {}): Promise<Scenario> {
  const id = `t${randomBytes(5).toString('hex')}`;
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-vault-'));
  const must = async (method: string, p: string, body?: unknown, headers?: Record<string, string>) => {
    const r = await vault.api(method, p, body, headers);
    if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const values = {
    planToken: `plan-read-${randomBytes(8).toString('hex')}`,
    applyToken: `apply-write-${randomBytes(8).toString('hex')}`,
    kv1Password: `kv1-pass-${randomBytes(8).toString('hex')}`,
    canary: `CANARY-${randomBytes(10).toString('hex')}`,
  };
  await must('POST', `${KV2}/data/${id}/plan`, { data: { token: values.planToken, id: 'airlock@pve!plan' } });
  await must('POST', `${KV2}/data/${id}/apply`, { data: { token: values.applyToken, canary: values.canary, id: 'airlock@pve!apply' } });
  await must('POST', `${KV1}/${id}/apply`, { password: values.kv1Password, port: 5432 });
  if (vault.double) await must('POST', `${DB}/roles/${id}-apply`, { db_name: 'lab', default_ttl: '1h', creation_statements: ['CREATE ROLE x'] });

  const policies = {
    plan: `path "${KV2}/data/${id}/plan" { capabilities = ["read"] }\n`,
    apply: [
      `path "${KV2}/data/${id}/apply" { capabilities = ["read"] }`,
      `path "${KV1}/${id}/*" { capabilities = ["read"] }`,
      `path "${DB}/creds/${id}-apply" { capabilities = ["read"] }`,
      `path "sys/leases/revoke/${DB}/creds/${id}-apply/*" { capabilities = ["update"] }`,
    ].join('\n'),
  };
  const identities: Record<'plan' | 'apply', IdentitySetup> = {} as never;
  for (const phase of ['plan', 'apply'] as const) {
    const role = `${id}-${phase}`;
    await must('PUT', `sys/policies/acl/${role}`, { policy: policies[phase] });
    await must('POST', `auth/approle/role/${role}`, { token_policies: [role], token_ttl: opts.tokenTtl ?? '2h', token_max_ttl: '4h', token_type: 'service', secret_id_num_uses: 0 });
    const roleId = (await must('GET', `auth/approle/role/${role}/role-id`)).data.role_id as string;
    identities[phase] = { role, roleId, policy: role };
  }

  const issueSecretId: Scenario['issueSecretId'] = async (phase, o = {}) => {
    const body: Record<string, unknown> = {};
    if (o.numUses !== undefined) body['num_uses'] = o.numUses;
    if (o.ttl !== undefined) body['ttl'] = o.ttl;
    const res = await must('POST', `auth/approle/role/${identities[phase].role}/secret-id`, body, o.wrapped ? { 'X-Vault-Wrap-TTL': '300' } : {});
    return o.wrapped ? (res.wrap_info.token as string) : (res.data.secret_id as string);
  };

  const roleNames = new Set([identities.plan.role, identities.apply.role]);
  return {
    id,
    dir,
    plan: identities.plan,
    apply: identities.apply,
    values,
    issueSecretId,
    async secretIdFile(phase, o = {}) {
      const file = path.join(dir, o.name ?? `${phase}.secret-id`);
      await writeFile(file, `${await issueSecretId(phase, o)}\n`, { mode: 0o600 });
      await chmod(file, 0o600);
      return file;
    },
    async liveTokens() {
      if (vault.double) return vault.double.liveTokens().filter((t) => t.roleName && roleNames.has(t.roleName)).map((t) => t.accessor);
      const list = await vault.api('GET', 'auth/token/accessors?list=true');
      const out: string[] = [];
      for (const accessor of (list.body?.data?.keys ?? []) as string[]) {
        const info = await vault.api('POST', 'auth/token/lookup-accessor', { accessor });
        if (roleNames.has(info.body?.data?.meta?.role_name)) out.push(accessor);
      }
      return out;
    },
    async liveLeases() {
      if (!vault.double) return [];
      return vault.double.liveLeases().map((l) => l.leaseId).filter((l) => l.startsWith(`${DB}/creds/${id}-`));
    },
    async cleanup() {
      for (const phase of ['plan', 'apply'] as const) {
        await vault.api('DELETE', `auth/approle/role/${identities[phase].role}`);
        await vault.api('DELETE', `sys/policies/acl/${identities[phase].role}`);
      }
      await vault.api('DELETE', `${KV2}/metadata/${id}/plan`);
      await vault.api('DELETE', `${KV2}/metadata/${id}/apply`);
      await vault.api('DELETE', `${KV1}/${id}/apply`);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
