// A runner with `metrics.listen` set, scraped after many runs: the outcomes are counted, no run id or sha
// is in the exposition, and the number of series does not grow with the number of runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pushCommit } from '../git-fixtures.ts';
import { waitForState } from '../support/harness.ts';
import { setupLoop, type Loop } from '../e2e/loop-fixture.ts';
import { freePort, leaks, parseSeries, sample, type Series } from './scrape.ts';

const tf = (v: string) => `resource "terraform_data" "a" {\n  input = "${v}"\n}\n`;

async function scrape(loop: Loop): Promise<string> {
  const address = loop.runner.metrics?.address;
  assert.ok(address, 'the runner serves metrics');
  const res = await fetch(`http://${address}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** Label values that look like an identifier of one run (hex ids, shas) or free text: none may appear. */
function idLikeLabels(series: Series[]): string[] {
  return series.flatMap((s) => Object.entries(s.labels).filter(([, v]) => /[0-9a-f]{10,}/i.test(v) || v.length > 64 || /\s/.test(v)).map(([k, v]) => `${s.name}{${k}="${v}"}`));
}

const ours = (series: Series[]) => series.filter((s) => s.name.startsWith('airlock_'));

test('after many runs /metrics names no run id or sha, and its series do not grow with the runs', async (t) => {
  const port = await freePort();
  const loop = await setupLoop(t, { extra: { metrics: { listen: `127.0.0.1:${port}` } } });
  const needles: string[] = [];
  let pr = 0;

  /** One run the guard refuses (a committed state file), then two applied one after the other (one state). */
  async function batch(): Promise<void> {
    pr++;
    const refusedSha = await pushCommit(loop.remote, { 'main.tf': tf('x'), 'terraform.tfstate': '{}' }, { refs: [`refs/pull/${pr}/head`] });
    needles.push(refusedSha, refusedSha.slice(0, 12), loop.runId(refusedSha));
    await loop.runner.watcher.pollAll();
    await waitForState(loop.runner, loop.runId(refusedSha), ['refused'], 90_000);
    for (let i = 0; i < 2; i++) {
      pr++;
      const sha = await pushCommit(loop.remote, { 'main.tf': tf(`v${pr}`) }, { refs: [`refs/pull/${pr}/head`] });
      const id = loop.runId(sha);
      needles.push(sha, sha.slice(0, 12), id);
      await loop.runner.watcher.pollAll();
      await waitForState(loop.runner, id, ['awaiting_approval'], 90_000);
      const approved = await loop.cli('approve', id, '--yes');
      assert.equal(approved.code, 0, approved.err);
      const ended = await waitForState(loop.runner, id, ['applied', 'failed', 'needs_attention'], 90_000);
      assert.equal(ended.state, 'applied', JSON.stringify(ended.error));
    }
    await loop.runner.cp.transitions.idle();
  }

  await batch();
  const first = await scrape(loop);
  await batch();
  await batch();
  const third = await scrape(loop);
  const series = parseSeries(third);

  // What happened is counted, by state and rule…
  assert.equal(sample(series, 'airlock_runs_finished_total', { kind: 'apply', state: 'applied' }), 6);
  assert.equal(sample(series, 'airlock_runs_finished_total', { kind: 'plan', state: 'refused' }), 3);
  assert.equal(sample(series, 'airlock_guard_refusals_total', { rule: 'committed-state' }), 3);
  assert.equal(sample(series, 'airlock_approval_requests_total', { phase: 'approve' }), 6);
  assert.equal(sample(series, 'airlock_apply_unapproved_total'), 0);
  assert.equal(sample(series, 'airlock_apply_duration_seconds_count', { outcome: 'applied' }), 6);
  assert.equal(sample(series, 'airlock_plan_step_duration_seconds_count', { step: 'checkout' }), 9);
  assert.ok((sample(series, 'airlock_audit_append_duration_seconds_count') ?? 0) > 9 * 3, 'every audit append is timed');
  assert.ok((sample(series, 'airlock_audit_last_witness_timestamp_seconds') ?? 0) > Date.now() / 1000 - 600, 'the witness is seen');
  assert.equal(sample(series, 'airlock_up'), 1);
  assert.equal(sample(series, 'airlock_audit_chains_verified'), 1, 'the start-up witness verified the chains');
  assert.equal(sample(series, 'airlock_queue_oldest_waiting_seconds', { queue: 'plan' }), 0);
  // …but never which run: no id, sha or sha prefix anywhere in the text, no id-like label value.
  assert.deepEqual(leaks(third, needles), []);
  assert.deepEqual(idLikeLabels(series), []);
  // The same outcomes twice more add no series: cardinality follows the label sets, not the runs.
  assert.equal(ours(series).length, ours(parseSeries(first)).length, 'series after 9 runs = series after 3 runs');
  assert.ok(ours(series).length < 600, `${ours(series).length} airlock_ series`);
});

test('the leak checks catch a run id, a sha and an id-like label (negative control)', () => {
  const sha = 'a'.repeat(40);
  const runId = 'r-0123456789abcdef';
  const text = `airlock_runs_finished_total{kind="apply",state="applied",run="${runId}"} 1\nairlock_x{sha="${sha}"} 1\n`;
  assert.deepEqual(leaks(text, [sha, runId, 'not-there']), [sha, runId]);
  assert.equal(idLikeLabels(parseSeries(text)).length, 2);
  assert.deepEqual(idLikeLabels(parseSeries('airlock_runs_finished_total{kind="apply",state="applied"} 1\n')), []);
});

test('without metrics.listen the runner opens no listener', async (t) => {
  const loop = await setupLoop(t);
  assert.equal(loop.runner.metrics, null);
});
