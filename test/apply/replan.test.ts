// `airlock replan RUN`: a new attempt at a finished run's head, asked for by an operator on the runner
// host and audited with their OS user. Sightings keep their fixed id, so a head seen again is never
// planned twice; an attempt is only made from the newest run of a PR, and never after an apply.
import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { test } from 'node:test';
import { nextAttempt, replanProblem } from '../../src/apply/replan.ts';
import { deriveRunId, type Run, type RunState } from '../../src/run/run.ts';
import { readChainRecords } from '../../src/audit/read-audit.ts';
import { main } from '../../src/cli/main.ts';
import { setupLoop, TF_TWO } from '../e2e/loop-fixture.ts';
import { pushCommit } from '../git-fixtures.ts';
import { runCli } from '../support/cli-process.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { startTestRunner, waitForState, writeConfig } from '../support/harness.ts';

const SHA = 'c'.repeat(40);
const CONFIG = { repos: [{ name: 'infra', workspaces: [{ name: 'default' }] }] } as Parameters<typeof replanProblem>[2];

function runIn(state: RunState, over: Partial<Run> = {}): Run {
  const at = new Date(0).toISOString();
  return { id: deriveRunId('infra', 'default', SHA), repo: 'infra', ref: 'refs/pull/1/head', pr: 1, sha: SHA, workspace: 'default', state, version: 3, createdAt: at, updatedAt: at, ...over };
}

const ROWS: Array<{ name: string; run: Run; latest?: string | null; problem: RegExp | null }> = [
  { name: 'failed', run: runIn('failed'), problem: null },
  { name: 'planned while applies were off', run: runIn('planned'), problem: null },
  { name: 'refused by the guard', run: runIn('refused'), problem: null },
  { name: 'expired', run: runIn('expired'), problem: null },
  { name: 'needs attention', run: runIn('needs_attention'), problem: null },
  { name: 'still planning', run: runIn('planning'), problem: /it is planning, not finished/ },
  { name: 'awaiting approval', run: runIn('awaiting_approval'), problem: /it is awaiting_approval, not finished/ },
  { name: 'approved, not yet applied', run: runIn('approved'), problem: /it is approved, not finished/ },
  { name: 'applied', run: runIn('applied'), problem: /it was applied/ },
  { name: 'already replanned', run: runIn('failed', { replannedBy: 'rnext' }), problem: /already replanned as rnext/ },
  { name: 'superseded', run: runIn('superseded'), problem: /a newer head .*replaced it/ },
  { name: 'no longer the PR\'s newest', run: runIn('failed'), latest: 'rnewer', problem: /a newer head \(run rnewer\) replaced it/ },
  { name: 'a workspace this config does not have', run: runIn('failed', { workspace: 'prod' }), problem: /workspace prod is not in this runner config/ },
];

for (const row of ROWS) {
  test(`replanProblem: ${row.name} → ${row.problem ? 'refused' : 'allowed'}`, () => {
    const problem = replanProblem(row.run, row.latest === undefined ? row.run.id : row.latest, CONFIG);
    if (row.problem === null) assert.equal(problem, null);
    else assert.match(problem?.reason ?? 'allowed', row.problem);
  });
}

test('nextAttempt numbers attempts at the same head; attempt 1 keeps the sighting id', () => {
  const first = runIn('failed');
  assert.equal(first.id, deriveRunId('infra', 'default', SHA, 1));
  const second = nextAttempt(first);
  assert.deepEqual([second.state, second.attempt, second.replanOf, second.sha], ['planning', 2, first.id, SHA]);
  assert.equal(second.id, deriveRunId('infra', 'default', SHA, 2));
  assert.notEqual(second.id, first.id);
  const third = nextAttempt({ ...second, state: 'failed' });
  assert.equal(third.attempt, 3);
  assert.equal(third.id, deriveRunId('infra', 'default', SHA, 3));
});

test('airlock replan: a head planned while applies were off is planned again once they are on; sightings never do', async (t) => {
  const isDouble = engineForTests().isDouble;
  const loop = await setupLoop(t, { appliesEnabled: false });
  const sha = await pushCommit(loop.remote, { 'main.tf': TF_TWO }, { refs: ['refs/pull/1/head'] });
  await loop.runner.watcher.pollAll();
  const first = await waitForState(loop.runner, loop.runId(sha), ['planned']);

  // The operator switches applies on and restarts: the head is seen again, and stays as it was.
  await loop.runner.stop();
  const knobs: Record<string, string> = isDouble ? { AIRLOCK_DOUBLE_LOG: loop.invocationLog } : {};
  const loaded = await writeConfig({ remoteUrl: loop.remote.url, dataDir: loop.loaded.config.runner.dataDir, prefix: loop.prefix, appliesEnabled: true, engineEnv: knobs });
  let { runner } = await startTestRunner(loaded);
  t.after(() => runner.stop());
  await runner.watcher.pollAll();
  assert.equal((await runner.cp.runs.get(first.id)).state, 'planned');
  assert.equal((await runner.cp.runs.list()).length, 1, 'a sighting never makes a second run');

  const replanned = await runCli(['replan', first.id, '--reason', 'applies are on now', '--config', loaded.file]);
  assert.equal(replanned.code, 0, replanned.stderr);
  const secondId = deriveRunId('infra', 'default', sha, 2);
  assert.match(replanned.stdout, new RegExp(`^replanned run ${first.id} \\(planned\\) as ${secondId}, attempt 2 at ${sha.slice(0, 10)}; a runner plans it now \\(recorded with os:${userInfo().username}\\)$`, 'm'));
  const second = await waitForState(runner, secondId, ['awaiting_approval']);
  assert.deepEqual([second.sha, second.attempt, second.replanOf], [sha, 2, first.id]);
  assert.equal((await runner.cp.runs.get(first.id)).replannedBy, secondId);
  if (isDouble) assert.equal((await loop.invocations('plan')).length, 2, 'one plan per attempt, none per sighting');

  // Seen again, by this runner and by a restarted one: still two runs, and nothing more planned.
  await runner.watcher.pollAll();
  await runner.stop();
  ({ runner } = await startTestRunner(loaded));
  await runner.watcher.pollAll();
  assert.equal((await runner.cp.runs.list()).length, 2);
  if (isDouble) assert.equal((await loop.invocations('plan')).length, 2);

  const refusals: Array<[string, RegExp]> = [
    [secondId, /it is awaiting_approval, not finished/],
    [first.id, new RegExp(`it was already replanned as ${secondId}`)],
  ];
  // The refusals run the same CLI code in this process (the first replan above was its own process).
  const cli = async (...args: string[]) => {
    let out = '';
    let err = '';
    const code = await main(['node', 'airlock', ...args, '--config', loaded.file], { out: (s) => (out += `${s}\n`), err: (s) => (err += `${s}\n`), isTTY: false });
    return { code, stdout: out, stderr: err };
  };
  for (const [id, why] of refusals) {
    const r = await cli('replan', id);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, why);
    assert.match(r.stderr, /code: airlock:replan-refused/);
  }
  const shown = await cli('show', secondId);
  assert.match(shown.stdout, new RegExp(`attempt 2 at this head: replans ${first.id}`));

  // A newer commit on the PR supersedes the replanned attempt, which can then not be replanned.
  const newer = await pushCommit(loop.remote, { 'main.tf': TF_TWO.replace('one', 'uno') }, { refs: ['refs/pull/1/head'] });
  await runner.watcher.pollAll();
  assert.equal((await waitForState(runner, secondId, ['superseded'])).supersededBy, deriveRunId('infra', 'default', newer));
  const third = await waitForState(runner, deriveRunId('infra', 'default', newer), ['awaiting_approval']);
  const stale = await cli('replan', secondId);
  assert.equal(stale.code, 1);
  assert.match(stale.stderr, /a newer head .*replaced it: an older commit is never planned for approval again/);
  assert.equal((await cli('approve', third.id, '--yes')).code, 0);
  await waitForState(runner, third.id, ['applied']);
  const done = await cli('replan', third.id);
  assert.equal(done.code, 1);
  assert.match(done.stderr, /it was applied/);

  // On the record: who asked, for which head, from which run; and every refusal.
  const records = await readChainRecords(runner.cp.paths.auditDir);
  const replan = records.find((cr) => cr.record.type === 'run.replanned');
  assert.equal(replan?.chain, 'test-cli.jsonl');
  assert.deepEqual(replan?.record.actor, { kind: 'human', id: `os:${userInfo().username}` });
  assert.equal(replan?.record.run, secondId);
  assert.deepEqual(replan?.record.detail, { replanOf: first.id, attempt: 2, previousState: 'planned', note: 'applies are on now' });
  assert.equal(records.filter((cr) => cr.record.type === 'run.replan_refused').length, 4);
});
