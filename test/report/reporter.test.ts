// The reporter's queue against the forge double: coalescing, retries through an outage and a rate limit,
// a bounded backlog, one living comment found again after a restart, and both PRs of a shared head.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { createLogger } from '../../src/log/logger.ts';
import { commentMarker } from '../../src/report/comment.ts';
import { createReporter } from '../../src/report/reporter.ts';
import type { ForgeDouble } from '../doubles/forge-double.ts';
import { CapturedLog } from '../support/harness.ts';
import { adapterFor, forgeDouble, REPO, SHA, SHA2 } from './forge-fixture.ts';
import { plannedRun, runIn } from './run-fixture.ts';

let d: ForgeDouble;
let captured: CapturedLog;

beforeEach(async () => {
  d = await forgeDouble();
  captured = new CapturedLog();
});
afterEach(() => d.stop());

function reporterOn(kind: 'github' | 'gitea', extra: Partial<Parameters<typeof createReporter>[0]> = {}) {
  const log = createLogger({ level: 'debug', destination: captured.stream, pretty: false });
  return createReporter({ forges: new Map([['infra', { forge: adapterFor(kind, d), comment: true, driftIssue: true }]]), log, backoffMs: 20, maxBackoffMs: 200, ...extra });
}

for (const kind of ['github', 'gitea'] as const) {
  test(`${kind}: updates of one run coalesce, the last state wins, and both PRs of the head get one comment each`, async () => {
    const reporter = reporterOn(kind);
    reporter.report(runIn('planning'));
    reporter.report(plannedRun('awaiting_approval', ['a.b', 'c.d']));
    const final = plannedRun('applied', ['a.b', 'c.d']);
    reporter.report(final);
    await reporter.idle();
    const statuses = d.statusesOf(REPO, SHA);
    assert.equal(statuses.at(-1)?.state, 'success');
    assert.ok(statuses.length < 3, `coalesced: ${statuses.map((s) => s.state).join(',')}`);
    for (const pr of [7, 8]) {
      const mine = d.comments.filter((c) => c.pr === pr && c.body.startsWith(commentMarker('infra', 'default')));
      assert.equal(mine.length, 1, `PR ${pr} has one comment`);
      assert.match(mine[0]!.body, /Applied/);
    }
    // A stale event (an older version) never overwrites the final status.
    reporter.report({ ...runIn('planning'), version: final.version - 1 });
    await reporter.idle();
    assert.equal(d.statusesOf(REPO, SHA).at(-1)?.state, 'success');
    await reporter.stop();
  });
}

test('a restart finds the same comment by its marker and edits it; a comment without the marker is left alone', async () => {
  d.comments.push({ id: 1, body: 'LGTM from a human', user: 'alice', pr: 7 });
  const first = reporterOn('github');
  first.report(plannedRun('awaiting_approval', ['a.b', 'c.d']));
  await first.idle();
  await first.stop();
  const second = reporterOn('github'); // a new process: no cache
  second.report(plannedRun('applied', ['a.b', 'c.d']));
  await second.idle();
  const ours = d.comments.filter((c) => c.pr === 7 && c.body.startsWith(commentMarker('infra', 'default')));
  assert.equal(ours.length, 1, 'updated, not duplicated');
  assert.match(ours[0]!.body, /Applied/);
  assert.equal(d.comments.find((c) => c.id === 1)?.body, 'LGTM from a human');
  assert.ok(d.requests.some((r) => r.method === 'PATCH'), 'edited in place');
  await second.stop();
});

test('a forge answering 500 for a while: retried with backoff, and the report catches up', async () => {
  const reporter = reporterOn('gitea');
  d.failNext(4, 503);
  reporter.report(plannedRun('applied', ['a.b', 'c.d']));
  await reporter.idle();
  assert.equal(d.statusesOf(REPO, SHA).at(-1)?.state, 'success');
  const stats = reporter.stats();
  assert.ok(stats.retried >= 1 && stats.sent === 1 && stats.failed === 0, JSON.stringify(stats));
  const failures = captured.lines().filter((l) => l['event'] === 'report.failed');
  assert.ok(failures.length >= 1 && failures.every((l) => l['code'] === 'airlock:forge-unavailable'));
  const waits = failures.map((l) => l['retryInMs'] as number);
  assert.ok(waits.every((w, i) => i === 0 || w >= waits[i - 1]!), `backoff grows: ${waits.join(',')}`);
  await reporter.stop();
});

test('a rate limit is honoured: the retry waits as long as retry-after says', async () => {
  const reporter = reporterOn('github');
  d.rateLimit({ kind: 'secondary', remaining: 0, resetInS: 3600, retryAfterS: 1 });
  reporter.report(runIn('no_changes'));
  await new Promise((r) => setTimeout(r, 100));
  d.rateLimit(null);
  await reporter.idle();
  const failed = captured.lines().find((l) => l['event'] === 'report.failed');
  assert.equal(failed?.['code'], 'airlock:forge-rate-limited');
  assert.equal(failed?.['retryInMs'], 1000, 'waited what the forge asked, not the 20 ms backoff');
  assert.equal(d.statusesOf(REPO, SHA).at(-1)?.state, 'success');
  await reporter.stop();
});

test('an outage leaves a bounded backlog: the oldest reports are dropped and counted; the rest drain when the forge returns', async () => {
  const reporter = reporterOn('github', { maxBacklog: 3, backoffMs: 50 });
  d.refuseConnections(true);
  const shas = ['1', '2', '3', '4', '5'].map((c) => c.repeat(40));
  for (const sha of shas) reporter.report(runIn('applied', { sha, id: `r${sha.slice(0, 15)}`, pr: null, ref: 'refs/heads/x' }));
  await new Promise((r) => setTimeout(r, 150));
  assert.ok(reporter.stats().dropped >= 2, JSON.stringify(reporter.stats()));
  assert.ok(reporter.stats().backlog <= 3);
  assert.ok(captured.lines().some((l) => l['code'] === 'airlock:report-backlog-full'));
  d.refuseConnections(false);
  await reporter.idle();
  assert.equal(d.statusesOf(REPO, shas[4]!).at(-1)?.state, 'success', 'the newest report was kept and sent');
  await reporter.stop();
});

test('auth errors are not retried: logged once with the code and the fix, counted as failed', async () => {
  const log = createLogger({ level: 'debug', destination: captured.stream, pretty: false });
  const reporter = createReporter({ forges: new Map([['infra', { forge: adapterFor('github', d, 'revoked-token-000000'), comment: true, driftIssue: true }]]), log, backoffMs: 20 });
  reporter.report(runIn('applied', { sha: SHA2 }));
  await reporter.idle();
  assert.deepEqual({ sent: reporter.stats().sent, failed: reporter.stats().failed, retried: reporter.stats().retried }, { sent: 0, failed: 1, retried: 0 });
  const line = captured.lines().find((l) => l['event'] === 'report.failed');
  assert.equal(line?.['code'], 'airlock:forge-auth');
  assert.match(String(line?.['hint']), /airlock doctor/);
  await reporter.stop();
});
