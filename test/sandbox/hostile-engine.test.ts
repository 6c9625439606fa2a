// The wall, tested the way an attacker meets it: a real runner plans with an engine that tries every
// escape (hostile-engine.mjs) while an approved apply holding a canary secret runs next to it. In the
// sandbox every attempt fails; the same run with `engine.sandbox: none` shows the attempts succeed, so
// the test can tell a wall from a test that checks nothing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TF_ONE_CHANGED, TF_TWO } from '../e2e/loop-fixture.ts';
import { pushCommit } from '../git-fixtures.ts';
import { knobSink } from '../support/knob-sink.ts';
import { sandboxConfigForTests, sandboxedTests } from '../support/engine-under-test.ts';
import { waitFor, waitForState } from '../support/harness.ts';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import type { Loop } from '../e2e/loop-fixture.ts';
import { setupVaultLoop } from '../credentials/vault-loop.ts';

const HOSTILE = fileURLToPath(new URL('./hostile-engine.mjs', import.meta.url));

type Attempt = { attempt: string; ok: boolean; error?: string };

/** Whether some process on the host (seen from outside any sandbox) holds `canary` in its environment. */
async function canaryHolderAlive(canary: string): Promise<boolean> {
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    if (pid === String(process.pid)) continue;
    const env = await readFile(`/proc/${pid}/environ`).catch(() => null);
    if (env?.includes(canary)) return true;
  }
  return false;
}

/** Plan a hostile head while an approved apply with an apply-only canary is running; the engine's report. */
async function hostileReport(t: TestContext, sandbox: unknown): Promise<{ attempts: Attempt[]; outsideFile: string; loop: Loop; runId: string }> {
  const x = await setupVaultLoop(t, {
    engineEnv: { AIRLOCK_DOUBLE_DELAY_MS: '20000', AIRLOCK_DOUBLE_DELAY_COMMANDS: 'apply', ...(sandboxedTests() ? { AIRLOCK_DOUBLE_SINK: knobSink().socket } : {}) },
    config: { engineBinary: HOSTILE, sandbox },
  });
  const { loop } = x;
  const root = loop.root;
  const tokenFile = path.join(root, 'ntfy-publish.token');
  await writeFile(tokenFile, 'tk_hostile_test_token\n', { mode: 0o600 });
  const outsideFile = path.join(root, 'hostile-was-here');

  const first = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const firstId = loop.runId(first);
  await waitForState(loop.runner, firstId, ['awaiting_approval']);
  const targets = {
    configFile: loop.loaded.file,
    tokenFile,
    secretIdFile: x.files.apply,
    dataDir: loop.loaded.config.runner.dataDir,
    otherPlanFile: loop.runner.cp.paths.job(firstId).planFile,
    // Only its hash: the canary itself must exist in the apply's environment alone.
    applyCanarySha256: createHash('sha256').update(x.s.values.canary).digest('hex'),
    runnerPid: process.pid,
    auditFile: path.join(loop.runner.cp.paths.auditDir, 'test.jsonl'),
    outsideFile,
    redisPort: Number(new URL(loop.loaded.config.redis.url).port || 6379),
  };
  // The targets reach the engine through the runner config, like any engine.env value.
  loop.loaded.config.engine.env['HOSTILE_TARGETS'] = JSON.stringify(targets);
  await loop.restart();

  assert.equal((await loop.cli('approve', firstId, '--yes')).code, 0);
  await waitFor('the approved apply to hold its canary', () => canaryHolderAlive(x.s.values.canary), 20_000);

  const second = await pushCommit(loop.remote, { 'main.tf': TF_ONE_CHANGED }, { refs: ['refs/pull/2/head'] });
  await loop.runner.watcher.pollAll();
  const secondId = loop.runId(second);
  const report = await waitFor('the hostile plan\'s report', async () => {
    const line = loop.log.lines().find((l) => l['runId'] === secondId && typeof l['engine'] === 'string' && l['engine'].startsWith('AIRLOCK-HOSTILE '));
    return line ? (JSON.parse(String(line['engine']).slice('AIRLOCK-HOSTILE '.length)) as Attempt[]) : undefined;
  });
  assert.ok(await canaryHolderAlive(x.s.values.canary), 'the apply with the canary was still running after the hostile plan');
  return { attempts: report, outsideFile, loop, runId: secondId };
}

test('in the sandbox, every escape a hostile plan tries fails', { skip: !sandboxedTests() && 'AIRLOCK_TEST_SANDBOX=none' }, async (t) => {
  const sandbox = sandboxConfigForTests();
  assert.notEqual(sandbox, 'none');
  // The hostile script itself must be visible inside, read-only, like the double's directory.
  const { attempts, outsideFile, loop, runId } = await hostileReport(t, { readOnlyPaths: [...(sandbox as { readOnlyPaths: string[] }).readOnlyPaths, path.dirname(HOSTILE)] });
  assert.equal(attempts.length, 13, JSON.stringify(attempts));
  assert.match(JSON.stringify(attempts.find((a) => a.attempt === 'reach the session driver (pid 1)')), /EACCES|EPERM/, 'the plan ran in a session and was refused by the kernel');
  const succeeded = attempts.filter((a) => a.ok);
  assert.deepEqual(succeeded, [], `escapes that worked: ${JSON.stringify(succeeded)}`);
  assert.equal(await stat(outsideFile).catch(() => null), null, 'nothing was written outside the job dir');
  const records = await readAuditRecords(loop.runner.cp.paths.auditDir, { run: runId });
  assert.equal(records.find((r) => r.type === 'plan.started')?.detail?.['sandbox'], 'bwrap');
  assert.doesNotMatch((await loop.cli('show', runId)).out, /WITHOUT the sandbox/);
});

test('negative control: with engine.sandbox none the same attempts succeed', async (t) => {
  const { attempts, outsideFile, loop, runId } = await hostileReport(t, 'none');
  const byName = Object.fromEntries(attempts.map((a) => [a.attempt, a]));
  // Without a sandbox there is no slirp gateway and no session driver: those attempts only mean something inside.
  const meaningful = attempts.filter((a) => !a.attempt.startsWith('tcp 10.0.2.2:') && !a.attempt.startsWith('reach the session driver'));
  const failed = meaningful.filter((a) => !a.ok);
  assert.deepEqual(failed, [], `without the sandbox these should have worked: ${JSON.stringify(failed)}`);
  assert.ok(byName['read a concurrent apply\'s environ']?.ok, 'the apply secret was readable');
  assert.ok((await stat(outsideFile)).isFile(), 'the hostile engine wrote outside its job dir');
  // The opt-out is loud: at start-up, in every engine step's audit record, in `airlock show`.
  assert.ok(loop.log.lines().some((l) => l['level'] === 40 && String(l['msg']).startsWith('engine.sandbox is `none`')), 'start-up warning');
  const records = await readAuditRecords(loop.runner.cp.paths.auditDir, { run: runId });
  for (const type of ['plan.started']) assert.equal(records.find((r) => r.type === type)?.detail?.['sandbox'], 'none', type);
  const firstRecords = await readAuditRecords(loop.runner.cp.paths.auditDir, {});
  assert.ok(firstRecords.some((r) => r.type === 'apply.started' && r.detail?.['sandbox'] === 'none'), 'apply.started says so too');
  assert.match((await loop.cli('show', runId)).out, /WARNING: engine\.sandbox is `none`: engine processes run WITHOUT the sandbox/);
});
