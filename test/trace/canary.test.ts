// The canary test over exported spans: a secret the runner has loaded (printed by the engine, in a resource
// value, in the error the failed apply raises), a plain value, a sensitive variable and a secret in the
// commit author appear in no byte the OTLP receiver got, while the run's trace did arrive (the control:
// what a span is meant to say is there, read from the same bytes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scrubber } from '../../src/log/scrub.ts';
import { pushCommit } from '../git-fixtures.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { waitForState } from '../support/harness.ts';
import { setupLoop } from '../e2e/loop-fixture.ts';
import { startOtlpReceiver } from '../doubles/otlp-receiver.ts';
import { leaks, runSpan } from './span-tree.ts';

const LOADED_SECRET = 'trace-loaded-secret-6c1e93d7';
const VALUE_CANARY = 'trace-value-canary-0b8f4a52';
const SENSITIVE_CANARY = 'trace-sensitive-canary-9d27c3e1';
const AUTHOR_CANARY = 'trace-author-canary-44a1f0bc';

const tf = `variable "db_password" {
  type      = string
  sensitive = true
  default   = "${SENSITIVE_CANARY}"
}

resource "terraform_data" "db" {
  input = var.db_password
}

resource "terraform_data" "plain" {
  input = "${VALUE_CANARY}"
}

resource "terraform_data" "secret" {
  input = "token ${LOADED_SECRET}"
}
`;

test('no canary reaches an exported span byte, and the run\'s trace did arrive', { skip: !engineForTests().isDouble && 'needs the double to print and fail' }, async (t) => {
  scrubber.add(LOADED_SECRET);
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  const loop = await setupLoop(t, {
    engineEnv: { AIRLOCK_DOUBLE_STDERR: `the secret is ${LOADED_SECRET}`, AIRLOCK_DOUBLE_FAIL: 'apply' },
    extra: { traces: { otlp: { endpoint: receiver.url }, exportDelay: '100ms' }, audit: { agents: { 'agent@lab.internal': 'claude' } } },
  });
  const sha = await pushCommit(loop.remote, { 'main.tf': tf }, { refs: ['refs/pull/7/head'], author: { name: `Agent ${AUTHOR_CANARY}`, email: 'agent@lab.internal' } });
  await loop.runner.watcher.pollAll();
  const id = loop.runId(sha);
  await waitForState(loop.runner, id, ['awaiting_approval'], 60_000);
  assert.equal((await loop.cli('approve', id, '--yes')).code, 0);
  const failed = await waitForState(loop.runner, id, ['failed', 'applied'], 60_000);
  assert.equal(failed.state, 'failed', 'the double was told to fail the apply');
  await receiver.waitFor('the run span', (s) => runSpan(s, id) !== undefined);
  await loop.runner.stop(); // flush the rest

  const run = runSpan(receiver.spans, id)!;
  assert.equal(run.attributes['error.type'], failed.error!.code);
  assert.ok(receiver.spans.some((s) => s.name === 'apply' && s.status.code === 2), 'the failed apply is in the trace');
  // The control: what spans should say is in the very bytes searched below.
  assert.deepEqual(leaks(receiver.raw, ['refs/pull/7/head', 'claude', id, failed.plan!.sha256, 'airlock:engine-failed']).length, 5, 'the search sees what was exported');
  assert.match(loop.log.raw, /the secret is \[scrubbed\]/, 'the engine did print the secret, and the log scrubbed it');
  assert.deepEqual(leaks(receiver.raw, [LOADED_SECRET, VALUE_CANARY, SENSITIVE_CANARY, AUTHOR_CANARY]), []);
  assert.deepEqual(receiver.errors, []);
});
