// What a "change" is, end to end: moves, forgets, imports, output-only changes and create-before-destroy
// replaces, planned by the engine under test (the double, or real terraform with AIRLOCK_TEST_ENGINE), reach
// the summary, its counts, the tier, `airlock show` and the phone message. Before issue 11 a moved-only,
// imported-only or output-only plan showed as "No changes", tier none, and approving it still changed state.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderPhoneRequest } from '../../src/approve/phone-summary.ts';
import { pushCommit } from '../git-fixtures.ts';
import { waitForState } from '../support/harness.ts';
import { setupLoop } from '../e2e/loop-fixture.ts';

const CASES: Record<string, { base?: string; next: string; action: string; line: RegExp; count: RegExp; tier: string; rule: string }> = {
  moved: {
    base: 'resource "terraform_data" "a" {\n  input = "x"\n}\n',
    next: 'resource "terraform_data" "b" {\n  input = "x"\n}\n\nmoved {\n  from = terraform_data.a\n  to   = terraform_data.b\n}\n',
    action: 'move',
    line: /^ {2}mv {2}terraform_data\.b \(from terraform_data\.a\)$/m,
    count: /1 to move/,
    tier: 'approve',
    rule: 'default:move',
  },
  forget: {
    base: 'resource "terraform_data" "a" {\n  input = "x"\n}\n',
    next: 'removed {\n  from = terraform_data.a\n\n  lifecycle {\n    destroy = false\n  }\n}\n',
    action: 'forget',
    line: /^ {2}x {3}terraform_data\.a$/m,
    count: /1 to forget/,
    tier: 'approve',
    rule: 'default:forget',
  },
  imported: {
    next: 'resource "terraform_data" "a" {}\n\nimport {\n  to = terraform_data.a\n  id = "imported-id"\n}\n',
    action: 'import',
    line: /^ {2}imp terraform_data\.a$/m,
    count: /1 to import/,
    tier: 'approve',
    rule: 'default:import',
  },
  outputs: {
    base: 'resource "terraform_data" "a" {\n  input = "x"\n}\n\noutput "o" {\n  value = "one"\n}\n',
    next: 'resource "terraform_data" "a" {\n  input = "x"\n}\n\noutput "o" {\n  value = "two"\n}\n',
    action: 'output',
    line: /^ {2}out output\.o$/m,
    count: /1 output to change/,
    tier: 'approve',
    rule: 'default:output',
  },
  cbd: {
    base: 'resource "terraform_data" "a" {\n  input            = "x"\n  triggers_replace = "1"\n\n  lifecycle {\n    create_before_destroy = true\n  }\n}\n',
    next: 'resource "terraform_data" "a" {\n  input            = "x"\n  triggers_replace = "2"\n\n  lifecycle {\n    create_before_destroy = true\n  }\n}\n',
    action: 'replace',
    line: /^ {2}-\/\+ terraform_data\.a$/m,
    count: /1 to replace/,
    tier: 'confirm',
    rule: 'default:destroy',
  },
};
const NAMES = Object.keys(CASES);
const tree = (pick: (c: (typeof CASES)[string]) => string | undefined) =>
  Object.fromEntries(NAMES.flatMap((n) => (pick(CASES[n]!) === undefined ? [[`${n}/README.md`, 'nothing yet\n']] : [[`${n}/main.tf`, pick(CASES[n]!)!]])));

test('moves, forgets, imports, output changes and create-before-destroy replaces are listed, counted, tiered and shown', async (t) => {
  const loop = await setupLoop(t, { workspaces: NAMES.map((name) => ({ name, dir: name })), extra: { plans: { concurrency: 1, attempts: 1, backoff: '1s' } } });

  // The state each case starts from, applied through the runner itself.
  const base = await pushCommit(loop.remote, tree((c) => c.base), { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  for (const name of NAMES.filter((n) => CASES[n]!.base !== undefined)) {
    const id = loop.runId(base, name);
    const run = await waitForState(loop.runner, id, ['awaiting_approval', 'failed', 'refused']);
    assert.equal(run.state, 'awaiting_approval', `${name} base: ${JSON.stringify(run.error ?? run.refusal)}`);
    assert.equal((await loop.cli('approve', id, '--yes')).code, 0);
    assert.equal((await waitForState(loop.runner, id, ['applied', 'failed'])).state, 'applied', name);
  }

  const next = await pushCommit(loop.remote, tree((c) => c.next), { refs: ['refs/pull/2/head'] });
  await loop.runner.watcher.pollAll();
  for (const name of NAMES) {
    const c = CASES[name]!;
    const run = await waitForState(loop.runner, loop.runId(next, name), ['awaiting_approval', 'failed', 'refused', 'no_changes']);
    assert.equal(run.state, 'awaiting_approval', `${name}: ${run.state} ${JSON.stringify(run.error ?? run.refusal)}`);
    const plan = run.plan!;
    assert.ok(plan.summary.changes.some((ch) => ch.action === c.action), `${name}: ${JSON.stringify(plan.summary.changes)}`);
    assert.ok(plan.summary.total >= 1, `${name}: counted in the total`);
    assert.equal(plan.tier, c.tier, `${name}: ${plan.reasons.join(' | ')}`);
    assert.ok(plan.reasons.some((r) => r.startsWith(`[${c.rule}]`)), `${name}: ${plan.reasons.join(' | ')}`);

    const shown = await loop.cli('show', run.id);
    assert.match(shown.out, c.line, `${name}: airlock show\n${shown.out}`);
    assert.match(shown.out, c.count, `${name}: counts in airlock show`);
    assert.doesNotMatch(shown.out, /No changes\./, name);
    const phone = renderPhoneRequest(plan.summary, { repo: run.repo, workspace: run.workspace, pr: run.pr, sha: run.sha, planSha256: plan.sha256, reasons: plan.reasons, expiresAt: new Date() });
    assert.match(phone.message, c.count, `${name}: counts on the phone`);
    assert.ok(phone.message.split('\n').some((l) => l.includes('terraform_data') || l.includes('output.o')), `${name}: the change is on the phone\n${phone.message}`);
  }

  // The imported object reaches the state as approved.
  const imported = loop.runId(next, 'imported');
  assert.equal((await loop.cli('approve', imported, '--yes')).code, 0);
  assert.equal((await waitForState(loop.runner, imported, ['applied', 'failed'])).state, 'applied');
});
