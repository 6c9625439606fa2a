// A runner on a temporary remote whose workspace has a plan and an apply identity in the Vault under
// test (the double, or a real server), for the end-to-end credential tests.
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { Redis } from 'ioredis';
import type { Run } from '../../src/run/run.ts';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import { setupLoop, TF_TWO, type Loop } from '../e2e/loop-fixture.ts';
import { pushCommit } from '../git-fixtures.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { REDIS_URL, waitForState, type TestConfigInput } from '../support/harness.ts';
import { createScenario, DB, KV1, KV2, vaultForTests, type Scenario, type VaultUnderTest } from './vault-fixture.ts';

export interface VaultLoop {
  loop: Loop;
  vault: VaultUnderTest;
  s: Scenario;
  files: { plan: string; apply: string };
  planSecrets: Record<string, string>;
  applySecrets: Record<string, string>;
}

/** Variables a workspace gets in each phase, and where they come from. */
export function mappings(s: Scenario, vault: VaultUnderTest) {
  return {
    plan: { PM_API_TOKEN_SECRET: `${KV2}/data/${s.id}/plan#token`, PM_API_TOKEN_ID: `${KV2}/data/${s.id}/plan#id` },
    apply: {
      PM_API_TOKEN_SECRET: `${KV2}/data/${s.id}/apply#token`,
      PM_API_TOKEN_ID: `${KV2}/data/${s.id}/apply#id`,
      APPLY_CANARY: `${KV2}/data/${s.id}/apply#canary`,
      PGPASSWORD: `${KV1}/${s.id}/apply#password`,
      ...(vault.double ? { DB_USER: `${DB}/creds/${s.id}-apply#username`, DB_PASS: `${DB}/creds/${s.id}-apply#password` } : {}),
    },
  };
}

/** The `default` workspace with a plan and an apply identity of scenario `s`, and their secret-id files. */
export async function credentialedWorkspace(s: Scenario, vault: VaultUnderTest, applyWrapped: boolean) {
  const files = { plan: await s.secretIdFile('plan'), apply: await s.secretIdFile('apply', applyWrapped ? { wrapped: true } : {}) };
  const map = mappings(s, vault);
  const workspace = {
    name: 'default',
    dir: '.',
    credentials: {
      plan: { roleId: s.plan.roleId, secretIdFile: files.plan, secrets: map.plan },
      apply: { roleId: s.apply.roleId, secretIdFile: files.apply, wrapped: applyWrapped, secrets: map.apply },
    },
  };
  return { files, workspace };
}

export async function setupVaultLoop(
  t: TestContext,
  opts: { engineEnv?: Record<string, string>; engineTimeouts?: TestConfigInput['engineTimeouts']; applyWrapped?: boolean; vault?: Record<string, unknown>; config?: Partial<TestConfigInput> } = {},
): Promise<VaultLoop> {
  const vault = await vaultForTests();
  const s = await createScenario(vault);
  const { files, workspace } = await credentialedWorkspace(s, vault, opts.applyWrapped ?? false);
  const loop = await setupLoop(t, {
    ...opts.config,
    workspaces: [workspace],
    extra: { vault: { address: vault.address, timeout: '2s', ...opts.vault } },
    ...(opts.engineEnv ? { engineEnv: opts.engineEnv } : {}),
    ...(opts.engineTimeouts ? { engineTimeouts: opts.engineTimeouts } : {}),
  });
  // Registered after setupLoop's own teardown, so this runs first: the runner stops before Vault goes.
  t.after(async () => {
    await loop.runner.stop().catch(() => undefined);
    await s.cleanup().catch(() => undefined);
    await vault.close();
  });
  const map = mappings(s, vault);
  return { loop, vault, s, files, planSecrets: map.plan, applySecrets: map.apply };
}

/** Every byte a run leaves behind outside the engine child: audit files, data dir files, raw Redis values. */
export async function everyCapturedByte(loop: Loop): Promise<Array<{ where: string; text: string }>> {
  const out: Array<{ where: string; text: string }> = [{ where: 'log', text: loop.log.raw }];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile() && (await stat(p)).size < 50_000_000) out.push({ where: p, text: await readFile(p, 'latin1') });
    }
  };
  await walk(loop.loaded.config.runner.dataDir);
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${loop.prefix}:*`, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        const parts: string[] =
          type === 'string'
            ? [(await redis.get(key)) ?? '']
            : type === 'hash'
              ? Object.entries(await redis.hgetall(key)).flat()
              : type === 'list'
                ? await redis.lrange(key, 0, -1)
                : type === 'set'
                  ? await redis.smembers(key)
                  : type === 'zset'
                    ? await redis.zrange(key, '0', '-1')
                    : type === 'stream'
                      ? (await redis.xrange(key, '-', '+')).flatMap(([id, fields]) => [id, ...fields])
                      : [];
        out.push({ where: `redis ${key}`, text: parts.join('\n') });
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return out;
}

let pr = 0;

/** Plan a new PR head (a fresh PR number each time) up to awaiting approval; returns its run id. */
export async function planNewHead(x: VaultLoop): Promise<string> {
  pr++;
  const sha = await pushCommit(x.loop.remote, { 'main.tf': TF_TWO.replace('"one"', `"pr-${pr}"`) }, { refs: [`refs/pull/${pr}/head`] });
  await x.loop.runner.watcher.pollAll();
  const id = x.loop.runId(sha);
  await waitForState(x.loop.runner, id, ['awaiting_approval']);
  return id;
}

/** AppRole logins the Vault double saw (empty against a real server). */
export const logins = (x: VaultLoop) => x.vault.double?.requests.filter((r) => r.path === 'auth/approle/login') ?? [];

/** Approve, wait for the apply job to end, and check it was refused with `code`, on record, with nothing applied. */
export async function approveExpectingRefusal(x: VaultLoop, id: string, code: string): Promise<{ run: Run; detail: Record<string, unknown> }> {
  const applyInvocations = (await x.loop.invocations('apply')).length;
  assert.equal((await x.loop.cli('approve', id, '--yes')).code, 0);
  const run = await waitForState(x.loop.runner, id, ['applied', 'failed', 'needs_attention']);
  assert.equal(run.state, 'failed');
  assert.equal(run.error?.code, code, JSON.stringify(run.error));
  assert.match(run.error?.message ?? '', /nothing was applied\. Next: /);
  const records = await readAuditRecords(x.loop.runner.cp.paths.auditDir, { run: id });
  const refusal = records.find((r) => r.type === 'apply.refused');
  assert.ok(refusal, records.map((r) => r.type).join(','));
  assert.equal(refusal.detail?.['code'], code);
  assert.ok(!records.some((r) => r.type === 'apply.started'), 'the apply never started');
  assert.ok(!records.some((r) => r.type === 'credentials.issued' && r.detail?.['phase'] === 'apply'));
  if (engineForTests().isDouble) assert.equal((await x.loop.invocations('apply')).length, applyInvocations, 'no engine apply ran');
  assert.deepEqual(await x.s.liveTokens(), []);
  const shown = await x.loop.cli('show', id);
  assert.match(shown.out, new RegExp(code));
  return { run, detail: refusal.detail ?? {} };
}
