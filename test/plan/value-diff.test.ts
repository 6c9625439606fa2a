// The attribute-level diff: terraform's own redaction first, then the scrubber, with seeded canaries that must
// never come out; and the phone shows values only when the view says so, within its byte budget.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PHONE_MESSAGE_BYTES, renderPhoneRequest } from '../../src/approve/phone-summary.ts';
import { approvalTextSha256, planViewOf, readPlanView, renderApprovalText, writePlanView } from '../../src/approve/plan-view.ts';
import { scrubber } from '../../src/log/scrub.ts';
import { createSummaryBuilder, type RawResourceChange } from '../../src/plan/summary.ts';
import { readValueDiffs, SENSITIVE, UNKNOWN, valueDiffsOf } from '../../src/plan/value-diff.ts';
import { removeDir, tempDir } from '../support/harness.ts';

const SENSITIVE_CANARY = 'sensitive-canary-71c0e9d2';
const SENSITIVE_KEY_CANARY = 'sensitive-key-canary-4b1f';
const SCRUBBED_CANARY = 'scrubbed-canary-e83a5c17';
scrubber.add(SCRUBBED_CANARY);

/** A plan as `terraform show -json` writes it: one update, one create, one sensitive change, one output. */
function planDoc(opts: { marks?: boolean } = {}) {
  const marks = opts.marks ?? true;
  return {
    format_version: '1.2',
    resource_changes: [
      {
        address: 'terraform_data.vm',
        mode: 'managed',
        change: {
          actions: ['update'],
          before: { id: 'x1', input: { memory: 2048, name: 'grafana', password: SENSITIVE_CANARY, tags: { [SENSITIVE_KEY_CANARY]: 'v' } }, output: null },
          after: { id: 'x1', input: { memory: 8192, name: 'grafana', password: `${SENSITIVE_CANARY}-new`, tags: { [SENSITIVE_KEY_CANARY]: 'w' } }, output: null },
          after_unknown: { output: true },
          before_sensitive: marks ? { input: { password: true, tags: true } } : {},
          after_sensitive: marks ? { input: { password: true, tags: true } } : {},
        },
      },
      {
        address: 'terraform_data.leak',
        mode: 'managed',
        change: { actions: ['create'], before: null, after: { input: `token=${SCRUBBED_CANARY}` }, after_unknown: { id: true }, before_sensitive: false, after_sensitive: {} },
      },
      { address: 'terraform_data.same', mode: 'managed', change: { actions: ['no-op'], before: { input: 1 }, after: { input: 1 } } },
    ],
    output_changes: { secret: { actions: ['update'], before: SENSITIVE_CANARY, after: 'other', before_sensitive: marks, after_sensitive: marks } },
  };
}

function summaryOf(doc: ReturnType<typeof planDoc>) {
  const b = createSummaryBuilder();
  doc.resource_changes.forEach((e, i) => b.add(e as RawResourceChange, i));
  b.addOutput('secret', ['update']);
  return b.finish({ formatVersion: '1.2', engineVersion: '1.11.4', errored: false });
}

describe('valueDiffsOf', () => {
  it('shows what changes (2048 -> 8192), redacts what terraform marks sensitive, scrubs known secrets', () => {
    const diff = valueDiffsOf(planDoc());
    const vm = diff.changes.find((c) => c.address === 'terraform_data.vm')!;
    assert.deepEqual(vm.attributes, [
      { path: 'input.password', before: SENSITIVE, after: SENSITIVE },
      { path: 'input.memory', before: '2048', after: '8192' },
      { path: 'input.tags', before: SENSITIVE, after: SENSITIVE },
      { path: 'output', before: '(none)', after: UNKNOWN },
    ].sort((a, b) => (a.path < b.path ? -1 : 1)));
    const leak = diff.changes.find((c) => c.address === 'terraform_data.leak')!;
    assert.deepEqual(leak.attributes, [
      { path: 'id', before: '(none)', after: UNKNOWN },
      { path: 'input', before: '(none)', after: '"token=[scrubbed]"' },
    ]);
    assert.deepEqual(diff.changes.find((c) => c.address === 'output.secret')?.attributes, [{ path: '(value)', before: SENSITIVE, after: SENSITIVE }]);
    assert.equal(diff.changes.some((c) => c.address === 'terraform_data.same'), false, 'a no-op has no diff');
    const text = JSON.stringify(diff);
    for (const canary of [SENSITIVE_CANARY, SENSITIVE_KEY_CANARY, SCRUBBED_CANARY]) assert.ok(!text.includes(canary), `${canary} leaked`);
  });

  it('a value sensitive as a whole is one entry: not even its keys are shown', () => {
    const diff = valueDiffsOf({ output_changes: { creds: { actions: ['create'], before: null, after: { [SENSITIVE_KEY_CANARY]: SENSITIVE_CANARY }, before_sensitive: false, after_sensitive: true } } });
    assert.deepEqual(diff.changes, [{ address: 'output.creds', attributes: [{ path: '(value)', before: '(none)', after: SENSITIVE }], more: 0 }]);
  });

  it('negative control: without the sensitive marks, or with the secret unknown to the scrubber, the canaries would show', () => {
    const unmarked = JSON.stringify(valueDiffsOf(planDoc({ marks: false })));
    assert.ok(unmarked.includes(SENSITIVE_CANARY) && unmarked.includes(SENSITIVE_KEY_CANARY), 'the check can see a leak');
    const unknownSecret = 'not-registered-secret-0d9e';
    const doc = planDoc();
    doc.resource_changes[1]!.change.after = { input: unknownSecret } as never;
    assert.ok(JSON.stringify(valueDiffsOf(doc)).includes(unknownSecret), 'only known secrets are scrubbed');
  });

  it('caps attributes per change and value length, scrubbing before the cut', () => {
    const after = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${String(i).padStart(2, '0')}`, 'x'.repeat(50) + SCRUBBED_CANARY]));
    const diff = valueDiffsOf({ resource_changes: [{ address: 'a.b', change: { actions: ['create'], before: null, after } }] }, { maxFileBytes: 1e6, maxChanges: 10, maxAttributes: 5, maxValueChars: 60 });
    assert.equal(diff.changes[0]!.attributes.length, 5);
    assert.equal(diff.changes[0]!.more, 25);
    for (const a of diff.changes[0]!.attributes) {
      assert.ok(a.after.length <= 60, a.after);
      assert.ok(!a.after.includes(SCRUBBED_CANARY.slice(0, 8)), `a cut left part of the secret: ${a.after}`);
    }
  });

  it('a plan JSON over the size limit gets a note instead of values', async (t) => {
    const dir = await tempDir('value-diff');
    t.after(() => removeDir(dir));
    const file = path.join(dir, 'plan.json');
    await writeFile(file, JSON.stringify(planDoc()));
    assert.equal((await readValueDiffs(file)).changes.length, 3);
    const big = await readValueDiffs(file, { maxFileBytes: 100, maxChanges: 10, maxAttributes: 10, maxValueChars: 10 });
    assert.deepEqual(big.changes, []);
    assert.match(big.omitted ?? '', /over the 0\.0 MiB up to which values are shown/);
  });
});

describe('values on the phone (approval.showValues)', () => {
  const run = { id: 'r0123456789abcde', repo: 'infra', workspace: 'prod', pr: 7, sha: 'c0ffee1234567890c0ffee1234567890c0ffee12' };
  const plan = (showValues: boolean) => ({ sha256: 'ab'.repeat(32), tier: 'approve' as const, reasons: [], summary: summaryOf(planDoc()), values: valueDiffsOf(planDoc()), showValues });
  const expires = new Date('2030-01-01T00:15:00Z');

  it('off (the default): the request text holds no value; on: it does, redacted and scrubbed', () => {
    const off = renderApprovalText(planViewOf(run, plan(false)), expires, 'approve');
    assert.ok(!off.message.includes('2048'), off.message);
    const on = renderApprovalText(planViewOf(run, plan(true)), expires, 'approve');
    assert.match(on.message, /^~ terraform_data\.vm\n {3}input\.memory: 2048 -> 8192\n {3}input\.password: \(sensitive\) -> \(sensitive\)\n {3}input\.tags: \(sensitive\) -> \(sensitive\)\n {3}…1 more value \(airlock show\)$/m);
    assert.match(on.message, /^\+ terraform_data\.leak\n {3}id: \(none\) -> \(known after apply\)\n {3}input: \(none\) -> "token=\[scrubbed\]"$/m);
    for (const canary of [SENSITIVE_CANARY, SENSITIVE_KEY_CANARY, SCRUBBED_CANARY]) assert.ok(!on.message.includes(canary) && !on.title.includes(canary), `${canary} on the phone`);
    assert.notEqual(approvalTextSha256(on), approvalTextSha256(off), 'the values are part of the bound text');
  });

  it('the setting is kept in the view, so the text (and its sha256) re-renders the same from the file', async (t) => {
    const dir = await tempDir('plan-view-values');
    t.after(() => removeDir(dir));
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, 'plan-view.json');
    const view = planViewOf(run, plan(true));
    await writePlanView(file, view);
    const back = await readPlanView(file, run.id);
    assert.equal(approvalTextSha256(renderApprovalText(back!, expires, 'approve')), approvalTextSha256(renderApprovalText(view, expires, 'approve')));
  });

  it('values stay within the byte budget and never push the counts out', () => {
    const changes = Array.from({ length: 200 }, (_, i) => ({ address: `terraform_data.n${i}`, mode: 'managed', change: { actions: ['update'], before: { input: 'a'.repeat(300) }, after: { input: 'b'.repeat(300) } } }));
    const b = createSummaryBuilder();
    changes.forEach((e, i) => b.add(e as RawResourceChange, i));
    const summary = b.finish({ formatVersion: '1.2', engineVersion: '1.11.4', errored: false });
    const { message } = renderPhoneRequest(summary, { ...run, planSha256: 'ab'.repeat(32), expiresAt: expires, values: valueDiffsOf({ resource_changes: changes }) });
    assert.ok(Buffer.byteLength(message) <= PHONE_MESSAGE_BYTES);
    assert.match(message, /0 to destroy, 0 to replace, 0 to create, 200 to update/);
    assert.match(message, /…and \d+ more updates/);
    assert.match(message, /input: "a+…/);
  });
});
