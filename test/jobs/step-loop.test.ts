// The step loop: steps run in order, the check runs before each, 'done' ends the job, and a step whose
// `when` says it is not this job's is skipped outright (no check, no time, no span).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSteps, type Step } from '../../src/jobs/step-loop.ts';

interface Ctx { kind: 'pr' | 'drift'; ran: string[] }
const step = (name: string, extra: Partial<Step<Ctx>> = {}): Step<Ctx> => ({ name, run: async (ctx) => void ctx.ran.push(name), ...extra });
const steps = [step('checkout'), step('lock', { when: (ctx) => ctx.kind === 'drift' }), step('plan'), step('request', { run: async (ctx) => (ctx.ran.push('request'), 'done') }), step('never')];

for (const kind of ['pr', 'drift'] as const) {
  test(`a ${kind} job runs ${kind === 'pr' ? 'without' : 'with'} the lock step, checks before each step it runs, and stops at 'done'`, async () => {
    const ctx: Ctx = { kind, ran: [] };
    const checked: string[] = [];
    const started: string[] = [];
    const times = await runSteps(steps, ctx, { before: async (_c, name) => void checked.push(name), onStart: (_c, name) => (started.push(name), undefined) });
    const expected = kind === 'pr' ? ['checkout', 'plan', 'request'] : ['checkout', 'lock', 'plan', 'request'];
    assert.deepEqual(ctx.ran, expected);
    assert.deepEqual(checked, expected);
    assert.deepEqual(started, expected);
    assert.deepEqual(times.steps.map((s) => s.name), expected);
  });
}

test('a check that throws stops the job before the step runs', async () => {
  const ctx: Ctx = { kind: 'pr', ran: [] };
  await assert.rejects(runSteps(steps, ctx, { before: async (_c, name) => { if (name === 'plan') throw new Error('superseded'); } }), /superseded/);
  assert.deepEqual(ctx.ran, ['checkout']);
});
