// Vault's HTTP edges, on the double or a real server (AIRLOCK_TEST_VAULT_ADDR): the verb LIST that
// node-vault's list() sends and `GET ?list=true` are the same list operation under the same ACL, and a
// body that is not a JSON object is refused with 400 before anything else happens.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import vaultFactory from 'node-vault';
import { KV2, vaultScope, type VaultUnderTest } from './vault-fixture.ts';

async function setup(t: TestContext): Promise<{ vault: VaultUnderTest; id: string; tokenFor(policy: string): Promise<string> }> {
  const { vault, defer } = await vaultScope(t);
  const id = `t${randomBytes(5).toString('hex')}`;
  for (const key of ['a', 'b', 'sub/c']) {
    const r = await vault.api('POST', `${KV2}/data/${id}/${key}`, { data: { v: key } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    defer(() => vault.api('DELETE', `${KV2}/metadata/${id}/${key}`));
  }
  let n = 0;
  return {
    vault,
    id,
    async tokenFor(policy) {
      const name = `${id}-${++n}`;
      assert.equal((await vault.api('PUT', `sys/policies/acl/${name}`, { policy })).status, 204);
      defer(() => vault.api('DELETE', `sys/policies/acl/${name}`));
      const created = await vault.api('POST', 'auth/token/create', { policies: [name], ttl: '10m', no_default_policy: true });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const token = created.body.auth.client_token as string;
      defer(() => fetch(`${vault.address}/v1/auth/token/revoke-self`, { method: 'POST', headers: { 'X-Vault-Token': token } }));
      return token;
    },
  };
}

const clientFor = (vault: VaultUnderTest, token: string) => vaultFactory({ apiVersion: 'v1', endpoint: vault.address, token });

test('LIST (node-vault list()) and GET ?list=true list the same keys, and both need the list capability', async (t) => {
  const s = await setup(t);
  const lister = await s.tokenFor(`path "${KV2}/metadata/${s.id}/*" { capabilities = ["list"] }`);
  const reader = await s.tokenFor(`path "${KV2}/metadata/${s.id}/*" { capabilities = ["read"] }`);
  const listed = await clientFor(s.vault, lister).list(`${KV2}/metadata/${s.id}`);
  assert.deepEqual(listed.data.keys, ['a', 'b', 'sub/']);
  const viaQuery = await fetch(`${s.vault.address}/v1/${KV2}/metadata/${s.id}?list=true`, { headers: { 'X-Vault-Token': lister } });
  assert.equal(viaQuery.status, 200);
  assert.deepEqual(((await viaQuery.json()) as { data: { keys: string[] } }).data.keys, ['a', 'b', 'sub/']);
  const refused = await clientFor(s.vault, reader).list(`${KV2}/metadata/${s.id}`).then(() => null, (e: { response?: { statusCode: number }; message: string }) => e);
  assert.equal(refused?.response?.statusCode, 403, 'read is not list');
  assert.match(refused?.message ?? '', /permission denied/);
  if (s.vault.double) assert.ok(s.vault.double.requests.some((r) => r.method === 'LIST' && r.status === 200), 'the double saw the LIST verb');
});

test('a body that is not a JSON object is 400 "failed to decode JSON input", and nothing is written', async (t) => {
  const s = await setup(t);
  for (const body of ['{"data": {"v": "x"', '[1, 2]', '"a string"']) {
    const res = await fetch(`${s.vault.address}/v1/${KV2}/data/${s.id}/a`, { method: 'POST', headers: { 'X-Vault-Token': s.vault.rootToken, 'content-type': 'application/json' }, body });
    assert.equal(res.status, 400, body);
    const answer = (await res.json()) as { errors: string[] };
    assert.match(answer.errors[0] ?? '', /^failed to decode JSON input/, body);
  }
  const read = await s.vault.api('GET', `${KV2}/data/${s.id}/a`);
  assert.deepEqual([read.body.data.data, read.body.data.metadata.version], [{ v: 'a' }, 1], 'still the first version');
});
