// A short run of the chaos campaign (`npm run chaos` runs the long one): one seeded iteration of real
// runner processes on real Redis and git, with negative controls armed. The runners' own record must hold
// every invariant; the controls (a plan file applied a second time, a plan applied that nobody approved,
// one byte of a chain changed) must each be reported, so the checks are shown able to fail.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { engineForTests } from '../support/engine-under-test.ts';
import { tamperAudit } from './breaks.ts';
import { checkWorld } from './invariants.ts';
import { runIteration } from './iteration.ts';

const skip = !engineForTests().isDouble && 'counts applies through the engine double';

test('chaos smoke: a seeded iteration holds every invariant; broken variants are reported', { skip }, async (t) => {
  // Seed 375: one runner, two PR heads; a third head's checkout is interrupted by a SIGKILL, then a restart.
  const r = await runIteration(375, { breaks: ['duplicate-apply', 'unapproved-apply'], keep: true });
  t.after(() => r.world?.cleanup());
  assert.equal(r.error, undefined, r.error);
  // On a heavily loaded host the new head's checkout may not start within the window; the fault is then
  // skipped (and said so), and the checks below still run on what the runners did.
  assert.deepEqual([...r.fired, ...r.skipped], ['SIGKILL@checkout']);
  if (r.skipped.length) t.diagnostic(`SIGKILL@checkout not reached: ${r.notes.join('; ')}`);
  assert.equal(r.notes.filter((n) => n.startsWith('break: rogue apply')).length, 2, `both rogue applies ran: ${r.notes.join('; ')}`);
  const world = r.world!;

  // The runners, on their own: nothing applied twice or unapproved, chains verify, every head settled.
  assert.deepEqual(await checkWorld(world, { withoutRogues: true }), [], r.notes.join('\n'));
  assert.notEqual(r.recoveryMs, null);

  // With the rogue applies counted, both are reported.
  const kinds = new Set(r.violations.map((v) => v.invariant));
  assert.ok(kinds.has('unapproved-apply'), `an apply nobody approved is reported: ${JSON.stringify(r.violations)}`);
  assert.ok(kinds.has('double-apply'), `a plan file applied twice is reported: ${JSON.stringify(r.violations)}`);

  // One byte of a chain changed: it no longer verifies (and the decisions on it count as lost).
  await tamperAudit(world);
  assert.ok((await checkWorld(world, { withoutRogues: true })).some((v) => v.invariant === 'audit-chain'));
});
