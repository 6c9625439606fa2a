// Found by the chaos campaign (seed 7, `npm run chaos -- --seed 7`): a head whose plan job lost its runner
// twice mid-plan stayed `planning` forever. BullMQ fails a job that stalled more than once without running
// it again, and nothing ended the run. It now ends `failed` (airlock:plan-interrupted) on the record.
// Without the fix in src/queue/queues.ts this test times out waiting for a settled run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { engineForTests } from '../support/engine-under-test.ts';
import { fire } from './faults.ts';
import { checkWorld } from './invariants.ts';
import { scenarioFor, type Scenario } from './scenario.ts';
import { World } from './world.ts';

test('a plan killed twice mid-plan ends failed on the record, not planning forever', { skip: !engineForTests().isDouble && 'counts engine invocations through the double' }, async (t) => {
  const base = scenarioFor(7007);
  const scenario: Scenario = { ...base, world: { ...base.world, runners: 1, redis: 'shared', channel: 'terminal', vault: false, disk: false, engineDelayMs: 4000 }, heads: 1, faults: [] };
  const world = await World.create(scenario.world);
  t.after(async () => {
    await world.stop().catch(() => undefined);
    await world.cleanup();
  });
  await world.startRunners();
  await world.beginRound(scenario);
  const kill = { kind: 'kill', signal: 'SIGKILL', phase: 'plan', restart: 'same', restartDelayMs: 0 } as const;
  assert.equal(await fire(world, kill, 0), true, 'first kill mid-plan');
  assert.equal(await fire(world, kill, 1), true, 'second kill mid-plan, of the retried job');
  await world.recover();
  assert.notEqual(world.recoveryMs, null, 'the head settled within the recovery bound');
  const run = world.finalRuns!.find((r) => r.sha === world.heads.get(1));
  assert.equal(run?.state, 'failed');
  assert.equal(run?.error?.code, 'airlock:plan-interrupted');
  assert.match(run?.error?.message ?? '', /airlock replan/);
  await world.stop();
  assert.deepEqual(await checkWorld(world), []);
});
