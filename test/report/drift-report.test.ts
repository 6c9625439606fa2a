// Drift runs on the forge, through the reporter and the forge double (both flavors): a status under its own
// context on the checked head, and one living issue per workspace that is opened when drift is told,
// commented on when it changes, edited silently when it is the same, and closed when back in sync.
// Never a value; never coalesced with a PR run of the same commit.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { createLogger } from '../../src/log/logger.ts';
import { driftIssueMarker, driftStatusFor, issueFingerprint, renderDriftIssue } from '../../src/report/drift-report.ts';
import { createReporter } from '../../src/report/reporter.ts';
import type { DriftNotice, Run, RunState } from '../../src/run/run.ts';
import type { ForgeDouble } from '../doubles/forge-double.ts';
import { CapturedLog } from '../support/harness.ts';
import { adapterFor, forgeDouble, REPO, SHA, SHA2 } from './forge-fixture.ts';
import { plannedRun, runIn } from './run-fixture.ts';

const CANARY = 'CANARY-drift-report-44b1-never-shown';
const FP1 = '1'.repeat(64);
const FP2 = '2'.repeat(64);
const RUN_IDS = ['r00000000000000a', 'r00000000000000b', 'r00000000000000c', 'r00000000000000d', 'r00000000000000e'];

/** A drift run of refs/heads/main at `sha` in `state`; `drifted` addresses changed outside of Airlock. */
function driftRun(state: RunState, opts: { id?: string; sha?: string; drifted?: string[]; notice?: DriftNotice | null } = {}): Run {
  const drifted = opts.drifted ?? ['terraform_data.a'];
  const base = plannedRun(state, ['terraform_data.gone', ...drifted], { id: opts.id ?? RUN_IDS[0]!, ref: 'refs/heads/main', pr: null, sha: opts.sha ?? SHA, kind: 'drift', driftSlot: '2026-11-28T00:00:00.000Z' });
  const summary = { ...base.plan!.summary, drift: { changes: drifted.map((address) => ({ address, action: 'update' as const })), listed: drifted.length, total: drifted.length } };
  const notice = opts.notice === undefined ? { outcome: 'notified' as const, reason: 'new drift', fingerprint: FP1 } : opts.notice;
  return { ...base, plan: { ...base.plan!, summary }, ...(notice ? { driftNotice: notice } : {}) };
}

function inSyncRun(id: string): Run {
  return runIn('no_changes', { id, ref: 'refs/heads/main', pr: null, kind: 'drift', driftSlot: '2026-11-28T06:00:00.000Z' });
}

test('drift statuses: their own context, states by outcome, nothing for a skipped slot, no value, 140 characters at most', () => {
  assert.deepEqual(driftStatusFor(runIn('planning', { kind: 'drift' })), { state: 'pending', context: 'airlock/drift/default', description: 'Checking for drift' });
  assert.equal(driftStatusFor(runIn('no_changes', { kind: 'drift' }))?.state, 'success');
  assert.equal(driftStatusFor(driftRun('applied'))?.state, 'success');
  assert.match(driftStatusFor(driftRun('awaiting_approval'))!.description, /^Drift: 1 object changed outside of Airlock; waiting for a human/);
  assert.equal(driftStatusFor(driftRun('awaiting_approval'))!.state, 'failure');
  assert.match(driftStatusFor(driftRun('planned', { notice: { outcome: 'suppressed', reason: 'same', fingerprint: FP1 } }))!.description, /unchanged since it was reported/);
  assert.equal(driftStatusFor(runIn('failed', { kind: 'drift', error: { code: 'airlock:engine-failed', message: CANARY } }))?.state, 'error');
  assert.equal(driftStatusFor(runIn('skipped', { kind: 'drift' })), null, 'a skipped slot learnt nothing');
  const long = driftRun('awaiting_approval', { drifted: Array.from({ length: 500 }, (_, i) => `terraform_data.x${i}`) });
  assert.ok([...driftStatusFor(long)!.description].length <= 140);
});

test('the issue body: the marker with the fingerprint, the drifted addresses inert, never a value', () => {
  const run = { ...driftRun('awaiting_approval', { drifted: ['terraform_data.a', 'terraform_data.b[`x`]<img src=x>'] }), error: { code: 'x', message: CANARY } };
  const body = renderDriftIssue(run, new Date('2026-11-28T00:05:00Z'));
  assert.ok(body.startsWith(`${driftIssueMarker('infra', 'default')} fingerprint=${FP1} -->`));
  assert.equal(issueFingerprint(body), FP1);
  assert.match(body, /`~` terraform\\_data\\\.a \(changed\)/);
  assert.ok(body.includes('\\<img') && !/(^|[^\\])<img/.test(body), 'repo-supplied text is inert (escaped)');
  assert.ok(!body.includes(CANARY));
});

for (const kind of ['github', 'gitea'] as const) {
  describe(`${kind}: the drift issue through the reporter`, () => {
    let d: ForgeDouble;
    let captured: CapturedLog;
    beforeEach(async () => {
      d = await forgeDouble();
      captured = new CapturedLog();
    });
    afterEach(() => d.stop());

    const reporterOn = (driftIssue = true) =>
      createReporter({ forges: new Map([['infra', { forge: adapterFor(kind, d), comment: true, driftIssue }]]), log: createLogger({ level: 'debug', destination: captured.stream, pretty: false }), backoffMs: 20, maxBackoffMs: 100 });
    const ours = () => d.issues.filter((i) => i.body.startsWith(`${driftIssueMarker('infra', 'default')} `));
    const commentsOn = (n: number) => d.comments.filter((c) => c.pr === n);

    test('told → opened; the same again → edited silently; changed → one comment; in sync → said and closed', async () => {
      const reporter = reporterOn();
      reporter.report(driftRun('planning', { notice: null }));
      await reporter.idle();
      reporter.report(driftRun('awaiting_approval'));
      await reporter.idle();
      assert.equal(ours().length, 1, 'one issue opened');
      const issue = ours()[0]!;
      assert.equal(issue.title, 'Drift in default');
      assert.equal(issue.state, 'open');
      assert.equal(commentsOn(issue.number).length, 0, 'opening it is the notice');
      assert.deepEqual(d.statusesOf(REPO, SHA).map((s) => [s.state, s.context]), [['pending', 'airlock/drift/default'], ['failure', 'airlock/drift/default']]);
      assert.equal(d.comments.filter((c) => c.pr === 7 || c.pr === 8).length, 0, 'a drift run comments on no PR');

      // The same drift at the next slot (suppressed): the body moves on, nobody is notified.
      reporter.report(driftRun('planned', { id: RUN_IDS[1], notice: { outcome: 'suppressed', reason: 'the same drift as told by run r00000000000000a', fingerprint: FP1 } }));
      await reporter.idle();
      assert.equal(ours().length, 1);
      assert.equal(commentsOn(issue.number).length, 0, 'the same drift comments nothing');
      assert.match(ours()[0]!.body, /r00000000000000b/);
      assert.match(ours()[0]!.body, /Not notified again until it changes/);

      // The drift changed (told): one comment naming what drifted now.
      reporter.report(driftRun('awaiting_approval', { id: RUN_IDS[2], sha: SHA2, drifted: ['terraform_data.a', 'terraform_data.c'], notice: { outcome: 'notified', reason: 'changed', fingerprint: FP2 } }));
      await reporter.idle();
      assert.equal(ours().length, 1, 'still one issue');
      assert.equal(commentsOn(issue.number).length, 1);
      assert.match(commentsOn(issue.number)[0]!.body, /The drift changed[\s\S]*terraform\\_data\\\.c/);
      assert.equal(issueFingerprint(ours()[0]!.body), FP2);
      // Sent again (a retry, or the next state of the same run): no second comment.
      reporter.report({ ...driftRun('expired', { id: RUN_IDS[2], sha: SHA2, drifted: ['terraform_data.a', 'terraform_data.c'], notice: { outcome: 'notified', reason: 'changed', fingerprint: FP2 } }), version: 10_000 });
      await reporter.idle();
      assert.equal(commentsOn(issue.number).length, 1, 'idempotent: the issue already carries this fingerprint');

      // Back in sync: said, then closed.
      reporter.report(inSyncRun(RUN_IDS[3]!));
      await reporter.idle();
      assert.equal(ours()[0]!.state, 'closed');
      if (kind === 'github') assert.equal(ours()[0]!.stateReason, 'completed');
      assert.match(commentsOn(issue.number).at(-1)!.body, /^Back in sync at \S+: run r00000000000000d found nothing to change\. Closing\./);
      assert.equal(d.statusesOf(REPO, SHA).at(-1)?.state, 'success');

      // In sync again with no open issue: nothing to say. Drift told again: a new issue.
      reporter.report(inSyncRun(RUN_IDS[4]!));
      await reporter.idle();
      assert.equal(d.issues.length, 1);
      reporter.report({ ...driftRun('awaiting_approval', { id: RUN_IDS[0] }), version: 20_000 });
      await reporter.idle();
      assert.deepEqual(ours().map((i) => i.state), ['closed', 'open'], 'a new drift opens a new issue');
      const everything = JSON.stringify({ issues: d.issues, comments: d.comments, statuses: d.statusesOf(REPO, SHA), log: captured.lines() });
      assert.ok(!everything.includes(CANARY));
      await reporter.stop();
    });

    test('a suppressed drift never opens an issue a human closed; driftIssue off asks nothing of issues', async () => {
      const reporter = reporterOn();
      reporter.report(driftRun('planned', { notice: { outcome: 'suppressed', reason: 'same', fingerprint: FP1 } }));
      await reporter.idle();
      assert.equal(d.issues.length, 0, 'quiet: no issue for drift already told');
      reporter.report(driftRun('awaiting_approval', { id: RUN_IDS[1] }));
      await reporter.idle();
      assert.equal(d.issues.length, 1, 'control: told drift opens one');
      await reporter.stop();

      const off = reporterOn(false);
      const before = d.requests.length;
      off.report(driftRun('awaiting_approval', { id: RUN_IDS[2], sha: SHA2, notice: { outcome: 'notified', reason: 'x', fingerprint: FP2 } }));
      await off.idle();
      const asked = d.requests.slice(before).map((r) => `${r.method} ${r.path}`);
      assert.equal(asked.length, 1, asked.join('\n'));
      assert.match(asked[0]!, /statuses/);
      await off.stop();
    });

    test('a drift run and a PR run of one commit report apart; a skipped slot sends nothing', async () => {
      const reporter = reporterOn();
      reporter.report(plannedRun('awaiting_approval', ['terraform_data.a'], { id: RUN_IDS[4] }));
      reporter.report(driftRun('awaiting_approval'));
      reporter.report(runIn('skipped', { id: RUN_IDS[3], ref: 'refs/heads/main', pr: null, kind: 'drift', driftSlot: '2026-11-28T06:00:00.000Z', sha: SHA2 }));
      await reporter.idle();
      const contexts = d.statusesOf(REPO, SHA).map((s) => s.context).sort();
      assert.deepEqual(contexts, ['airlock/default', 'airlock/drift/default'], 'both reported: not coalesced');
      assert.deepEqual(d.statusesOf(REPO, SHA2), [], 'the skipped slot said nothing');
      await reporter.stop();
    });
  });
}

test('github: issues turned off answer 410; the status still goes, the failure is logged once with a hint, not retried', async () => {
  const d = await forgeDouble();
  const captured = new CapturedLog();
  try {
    d.disableIssues(REPO);
    const reporter = createReporter({ forges: new Map([['infra', { forge: adapterFor('github', d), comment: true, driftIssue: true }]]), log: createLogger({ level: 'debug', destination: captured.stream, pretty: false }), backoffMs: 20 });
    reporter.report(driftRun('awaiting_approval'));
    await reporter.idle();
    assert.equal(d.statusesOf(REPO, SHA).at(-1)?.context, 'airlock/drift/default');
    const failed = captured.lines().filter((l) => l['event'] === 'report.failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!['code'], 'airlock:forge-invalid');
    assert.match(String((failed[0]!['err'] as { message: string }).message), /410 Issues are disabled/);
    assert.deepEqual(reporter.stats().retried, 0);
    await reporter.stop();
  } finally {
    await d.stop();
  }
});
