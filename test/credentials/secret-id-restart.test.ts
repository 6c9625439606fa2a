// A wrapped secret_id after a restart: the wrapping token this runner used up itself is a routine
// re-delivery (no alert), while one somebody else used up is still the alert. Against the Vault double, or
// a real server with AIRLOCK_TEST_VAULT_ADDR.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import type { Run } from '../../src/run/run.ts';
import { parseConfigText } from '../../src/config/load.ts';
import type { VaultError } from '../../src/credentials/errors.ts';
import { createCredentialProvider } from '../../src/credentials/provider.ts';
import { createLogger } from '../../src/log/logger.ts';
import { Scrubber } from '../../src/log/scrub.ts';
import { CapturedLog, removeDir, tempDir } from '../support/harness.ts';
import { createScenario, KV2, vaultForTests } from './vault-fixture.ts';

const RUN = { id: 'run-1', repo: 'infra', workspace: 'default' } as Run;

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const vault = await vaultForTests();
  const s = await createScenario(vault);
  const dir = await tempDir('secret-id-restart');
  t.after(async () => {
    await s.cleanup().catch(() => undefined);
    await vault.close();
    await removeDir(dir);
  });
  const files = { plan: await s.secretIdFile('plan'), apply: await s.secretIdFile('apply') };
  const config = parseConfigText(
    stringify({
      vault: { address: vault.address, timeout: '2s' },
      repos: [
        {
          name: 'infra',
          url: 'file:///srv/git/infra.git',
          workspaces: [
            {
              name: 'default',
              credentials: {
                plan: { roleId: s.plan.roleId, secretIdFile: files.plan, secrets: { T: `${KV2}/data/${s.id}/plan#token` } },
                apply: { roleId: s.apply.roleId, secretIdFile: files.apply, wrapped: true, secrets: { T: `${KV2}/data/${s.id}/apply#token` } },
              },
            },
          ],
        },
      ],
    }),
    'test.yaml',
  );
  /** A runner's credential provider, as after a (re)start: nothing in memory, marks in `spentDir`. */
  const start = (spentDir: string) => {
    const scrubber = new Scrubber();
    return createCredentialProvider(config, { log: createLogger({ level: 'silent', destination: new CapturedLog().stream, pretty: false, scrubber }), scrubber, spentDir });
  };
  return { vault, s, files, dir, start };
}

async function rejects(p: Promise<unknown>): Promise<VaultError> {
  try {
    await p;
  } catch (err) {
    return err as VaultError;
  }
  assert.fail('expected a refusal');
}

test('a wrapping token this runner unwrapped before a restart: a coded re-delivery error, not an alert', async (t) => {
  const x = await setup(t);
  const spent = path.join(x.dir, 'vault-unwrapped');
  await writeFile(x.files.apply, await x.s.issueSecretId('apply', { wrapped: true }), { mode: 0o600 });
  const first = await x.start(spent).forApply(RUN);
  await first.release();

  // the restart: same file, same data dir
  const err = await rejects(x.start(spent).forApply(RUN));
  assert.equal(err.code, 'airlock:vault-secret-id-spent');
  assert.equal(err.alert, false);
  assert.match(err.message, /unwrapped by this runner before it restarted/);
  assert.match(err.hint ?? '', /deploy\/vault\/redeliver\.sh/);

  // negative control: a runner without the record of its own unwrap cannot tell, and alerts
  const blind = await rejects(x.start(path.join(x.dir, 'other-data-dir')).forApply(RUN));
  assert.equal(blind.code, 'airlock:vault-unwrap-failed');
  assert.equal(blind.alert, true);

  // re-delivery: a fresh token in the file, and the restarted runner works
  await writeFile(x.files.apply, await x.s.issueSecretId('apply', { wrapped: true }), { mode: 0o600 });
  const again = await x.start(spent).forApply(RUN);
  await again.release();
});

test('a wrapping token somebody else unwrapped is still the alert, whatever this runner unwrapped before', async (t) => {
  const x = await setup(t);
  const spent = path.join(x.dir, 'vault-unwrapped');
  await writeFile(x.files.apply, await x.s.issueSecretId('apply', { wrapped: true }), { mode: 0o600 });
  await (await x.start(spent).forApply(RUN)).release();

  const wrapped = await x.s.issueSecretId('apply', { wrapped: true });
  await writeFile(x.files.apply, wrapped, { mode: 0o600 });
  assert.equal((await x.vault.api('POST', 'sys/wrapping/unwrap', undefined, { 'X-Vault-Token': wrapped })).status, 200, 'stolen first');
  const err = await rejects(x.start(spent).forApply(RUN));
  assert.equal(err.code, 'airlock:vault-unwrap-failed');
  assert.equal(err.alert, true);
  assert.match(err.message, /^ALERT: /);
});
