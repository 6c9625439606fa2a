// `airlock runs --json` and `airlock show --json` carry bidi and other display-steering characters escaped
// (`\u202e`), never raw, so piping them to a terminal or a viewer cannot reorder what a human reads; the text
// views flag non-ASCII names as possible look-alikes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pushCommit } from '../git-fixtures.ts';
import { waitForState } from '../support/harness.ts';
import { setupLoop } from '../e2e/loop-fixture.ts';

const RAW = /[\u0080-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff]/;

test('--json output escapes bidi and control characters from the repository; text output flags look-alikes', async (t) => {
  const loop = await setupLoop(t);
  const tf = 'resource "terraform_data" "x" {\n  for_each = toset(["safe\u202Eexe.txt", "\u0440\u0430\u0443"])\n  input    = each.key\n}\n';
  const sha = await pushCommit(loop.remote, { 'main.tf': tf }, { refs: ['refs/pull/1/head'], author: { name: 'Mallory \u202Etoor\u200B', email: 'm@evil.example' } });
  await loop.runner.watcher.pollAll();
  const run = await waitForState(loop.runner, loop.runId(sha), ['awaiting_approval', 'failed']);
  assert.equal(run.state, 'awaiting_approval', JSON.stringify(run.error));
  assert.ok(JSON.stringify(run.plan?.summary.changes).includes('\\u202e') || run.plan!.summary.changes.some((c) => c.address.includes('\u202E')), 'the raw name is in the run');

  for (const args of [['runs', '--json'], ['show', run.id, '--json'], ['audit', 'show', '--run', run.id, '--json'], ['audit', 'tail', '--json']]) {
    const { code, out } = await loop.cli(...args);
    assert.equal(code, 0);
    assert.ok(!RAW.test(out), `${args.join(' ')} printed a raw display-steering character`);
    assert.match(out, /\\u202e/, `${args.join(' ')} carries it escaped`);
    for (const doc of args[0] === 'audit' ? out.trim().split('\n') : [out]) JSON.parse(doc); // still valid JSON, with the same values
  }
  const parsed = JSON.parse((await loop.cli('show', run.id, '--json')).out) as { author: string };
  assert.equal(parsed.author, 'Mallory \u202Etoor\u200B <m@evil.example>', 'the escape means the same character');

  const shown = (await loop.cli('show', run.id)).out;
  assert.ok(!RAW.test(shown));
  assert.match(shown, /terraform_data\.x\["\u0440\u0430\u0443"\] {2}\[!\] non-ASCII: look-alike letters\?/, 'an all-Cyrillic key is flagged');
  assert.match(shown, /author Mallory \\u\{202e\}toor\\u\{200b\} <m@evil\.example> \[!\]/);
});
