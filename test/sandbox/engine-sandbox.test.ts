// The engine adapter inside the sandbox: which host user each phase runs as, that a timeout ends every
// process of the sandbox (its PID namespace), and that the runner never follows what a sandbox leaves
// where the plan file should be.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { test } from 'node:test';
import { createEngine } from '../../src/engine/engine.ts';
import { hasCode } from '../../src/errors.ts';
import { makeJob, needsDouble, specForTests, waitFor } from '../engine/engine-under-test.ts';
import { sandboxedTests } from '../support/engine-under-test.ts';
import { descendants, sandboxSettingsForTests, scriptEngine } from './sandbox-fixture.ts';

const skip = !sandboxedTests() && 'AIRLOCK_TEST_SANDBOX=none';
const root = process.getuid?.() === 0;

test('a root runner runs plan and apply as their own host users, never as root', { skip: skip || (!root && 'needs a root runner') }, async (t) => {
  const job = await makeJob(t);
  const probe = await scriptEngine(t, 'echo "ids $(id -u) $(id -g) $(id -G)"');
  const sandbox = sandboxSettingsForTests({}, [probe.dir]);
  const engine = createEngine(specForTests({ binary: probe.binary, sandbox }));
  const seen: Record<string, string> = {};
  for (const phase of ['plan', 'apply'] as const) {
    const lines: string[] = [];
    await engine.init({ ...job.call, phase, onLine: (l) => lines.push(l) });
    seen[phase] = lines.find((l) => l.startsWith('ids '))!;
  }
  assert.equal(seen['plan'], `ids ${sandbox.users.plan.uid} ${sandbox.users.plan.gid} ${sandbox.users.plan.gid}`);
  assert.equal(seen['apply'], `ids ${sandbox.users.apply.uid} ${sandbox.users.apply.gid} ${sandbox.users.apply.gid}`);
});

test('a timeout ends every process in the sandbox, grandchildren included', { skip: skip || needsDouble }, async (t) => {
  const job = await makeJob(t, 'resource "terraform_data" "a" {\n  input = 1\n}\n');
  const sandbox = sandboxSettingsForTests();
  const engine = createEngine(specForTests({ sandbox, env: { AIRLOCK_DOUBLE_DELAY_MS: '600000', AIRLOCK_DOUBLE_SPAWN_SLEEP: job.at('home', 'sleep.pid') }, timeouts: { init: 30_000, plan: 1500, show: 30_000, apply: 30_000, version: 30_000 } }));
  await engine.init(job.call);
  const before = new Set(await descendants());
  const planning = engine.plan(job.call, job.at('p.tfplan'));
  planning.catch(() => undefined);
  // bwrap, the double (pid 1 of the sandbox) and the double's `sleep 600` grandchild.
  const during = await waitFor('the sandbox\'s processes to be running', async () => {
    const fresh = (await descendants()).filter((p) => !before.has(p));
    return fresh.length >= 3 ? fresh : undefined;
  });
  await assert.rejects(planning, (err: unknown) => hasCode(err, 'airlock:engine-timeout'));
  await waitFor('every sandboxed process to be gone', async () => {
    const alive = await descendants();
    return during.every((p) => !alive.includes(p));
  });
});

test('a symlink left where the plan file should be is refused, never followed', { skip }, async (t) => {
  const job = await makeJob(t);
  const hostile = await scriptEngine(t, '[ "$1" = plan ] && ln -sf /etc/hostname "$HOME/airlock-plan.tfplan"\nexit 2');
  const engine = createEngine(specForTests({ binary: hostile.binary, sandbox: sandboxSettingsForTests({}, [hostile.dir]) }));
  await assert.rejects(engine.plan(job.call, job.at('p.tfplan')), (err: unknown) => hasCode(err, 'airlock:engine-output'));
  assert.equal(await stat(job.at('p.tfplan')).catch(() => null), null, 'no plan file was made from it');
  assert.ok((await readFile('/etc/hostname', 'utf8')).length > 0);
});

