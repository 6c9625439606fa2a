// `airlock show` is not blind: it lists what changes attribute by attribute (2048 -> 8192), never a sensitive
// value or a known secret, and after the apply it still shows the apply's own output, scrubbed, once the job
// directory is gone. Runs against the double, and real terraform with AIRLOCK_TEST_ENGINE.
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { test } from 'node:test';
import { readPlanView, renderApprovalText } from '../../src/approve/plan-view.ts';
import { scrubber } from '../../src/log/scrub.ts';
import { pushCommit } from '../git-fixtures.ts';
import { waitForState } from '../support/harness.ts';
import { setupLoop } from './loop-fixture.ts';

const SENSITIVE_CANARY = 'sensitive-canary-3f6d0a94';
const SCRUBBED_CANARY = 'scrubbed-canary-b27c81e5';

const tf = (memory: number) => `variable "db_password" {
  type      = string
  sensitive = true
  default   = "${SENSITIVE_CANARY}"
}

resource "terraform_data" "vm" {
  input = { memory = ${memory}, name = "grafana" }
}

resource "terraform_data" "db" {
  input = var.db_password
}

resource "terraform_data" "leak" {
  input = "token ${SCRUBBED_CANARY} m${memory}"
}
`;

test('show lists the changed values, redacted and scrubbed, and keeps the apply output', async (t) => {
  scrubber.add(SCRUBBED_CANARY);
  const loop = await setupLoop(t, { extra: { approval: { channel: 'terminal', ttl: '15m', showValues: true } } });

  // first commit: everything is created, approved and applied
  const first = await pushCommit(loop.remote, { 'main.tf': tf(2048) }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const id1 = loop.runId(first);
  await waitForState(loop.runner, id1, ['awaiting_approval']);
  const created = await loop.cli('show', id1);
  assert.match(created.out, /^ {4}terraform_data\.vm\n {6}id: \(none\) -> \(known after apply\)\n {6}input\.memory: \(none\) -> 2048\n {6}input\.name: \(none\) -> "grafana"$/m, created.out);
  assert.equal((await loop.cli('approve', id1, '--yes')).code, 0);
  assert.equal((await waitForState(loop.runner, id1, ['applied', 'failed'])).state, 'applied');
  await waitForJobDirGone(loop.runner.cp.paths.job(id1).dir);
  const applied = await loop.cli('show', id1);
  assert.match(applied.out, /apply output \(last \d+ lines, scrubbed\):/, applied.out);
  assert.match(applied.out, /Apply complete! Resources: 3 added, 0 changed, 0 destroyed\./, 'the apply output is shown after the job directory is gone');

  // second commit: the memory changes, and the approver sees 2048 -> 8192
  const second = await pushCommit(loop.remote, { 'main.tf': tf(8192) }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const id2 = loop.runId(second);
  await waitForState(loop.runner, id2, ['awaiting_approval']);
  const updated = await loop.cli('show', id2);
  assert.match(updated.out, /^ {6}input\.memory: 2048 -> 8192$/m, updated.out);
  assert.match(updated.out, /^ {6}input: "token \[scrubbed\] m2048" -> "token \[scrubbed\] m8192"$/m);
  assert.doesNotMatch(updated.out, /terraform_data\.db\n/, 'the sensitive resource does not change');
  const view = await readPlanView(loop.runner.cp.paths.job(id2).planView, id2);
  const phone = renderApprovalText(view!, new Date(), 'approve');
  assert.match(phone.message, /^ {3}input\.memory: 2048 -> 8192$/m, 'showValues: the request text shows the change');

  const outputs: Record<string, string> = {
    showCreated: created.out + created.err,
    showApplied: applied.out + applied.err,
    showUpdated: updated.out + updated.err,
    phone: phone.title + phone.message,
    log: loop.log.raw,
  };
  for (const [where, text] of Object.entries(outputs)) {
    assert.ok(!text.includes(SENSITIVE_CANARY), `the sensitive value leaked into ${where}`);
    assert.ok(!text.includes(SCRUBBED_CANARY), `the scrubbed secret leaked into ${where}`);
  }
  // The first plan did show the sensitive resource, redacted: the check above looked where the value would be.
  assert.match(created.out, /^ {4}terraform_data\.db\n {6}id: \(none\) -> \(known after apply\)\n {6}input: \(none\) -> \(sensitive\)$/m);
});

async function waitForJobDirGone(dir: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (!(await access(dir).then(() => true, () => false))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${dir} was not removed`);
}
