// The metrics' own rules: loopback unless allowed, only GET /metrics, labels from bounded sets, and the
// record and move hooks count by class, never by what the record names.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { configSchema } from '../../src/config/schema.ts';
import { refusalClass, REFUSAL_REASONS } from '../../src/metrics/classify.ts';
import { isLoopbackHost, parseListen } from '../../src/metrics/config.ts';
import { BoundedLabel, createMetrics } from '../../src/metrics/metrics.ts';
import { serveMetrics } from '../../src/metrics/server.ts';
import { observeMove, observeRecord } from '../../src/runner/metrics-wiring.ts';
import type { Run } from '../../src/run/run.ts';
import { leaks, parseSeries, sample } from './scrape.ts';

test('metrics are off by default; a non-loopback listen is refused unless allowed in so many words', async () => {
  assert.deepEqual(configSchema.parse({}).metrics, { allowNonLoopback: false });
  for (const ok of ['127.0.0.1:9464', '127.1.2.3:1', 'localhost:9464', '[::1]:9464']) assert.equal(configSchema.safeParse({ metrics: { listen: ok } }).success, true, ok);
  for (const bad of ['0.0.0.0:9464', '192.168.1.10:9464', '[::]:9464', 'metrics.example.org:9464']) {
    const r = configSchema.safeParse({ metrics: { listen: bad } });
    assert.equal(r.success, false, bad);
    assert.deepEqual(r.error!.issues[0]!.path, ['metrics', 'listen']);
    assert.match(r.error!.issues[0]!.message, /not a loopback address.*allowNonLoopback: true/);
  }
  // Negative control: the same addresses pass when allowed, so it is the loopback rule that refused them.
  assert.equal(configSchema.safeParse({ metrics: { listen: '0.0.0.0:9464', allowNonLoopback: true } }).success, true);
  for (const shape of ['9464', '127.0.0.1', '127.0.0.1:99999', 'http://127.0.0.1:9464']) assert.equal(configSchema.safeParse({ metrics: { listen: shape } }).success, false, shape);
  assert.deepEqual(parseListen('[::1]:9464'), { host: '::1', port: 9464 });
  assert.equal(isLoopbackHost('128.0.0.1'), false);
});

test('the config loader names metrics.listen and what to do', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-metrics-config-'));
  try {
    const file = path.join(dir, 'runner.yaml');
    await writeFile(file, `runner: { dataDir: ${JSON.stringify(path.join(dir, 'data'))} }\nmetrics: { listen: "0.0.0.0:9464" }\n`);
    await assert.rejects(loadConfig(file), (err: Error) => /metrics\.listen/.test(err.message) && /allowNonLoopback/.test(err.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the listener refuses a non-loopback address itself, and serves only GET /metrics', async () => {
  const m = createMetrics({ version: 'test' }, { defaultMetrics: false });
  await assert.rejects(serveMetrics({ listen: '0.0.0.0:0', allowNonLoopback: false, registry: m.registry }), (err: { code?: string }) => err.code === 'airlock:metrics-listen');
  const server = await serveMetrics({ listen: '127.0.0.1:0', allowNonLoopback: false, registry: m.registry });
  try {
    assert.match(server.address, /^127\.0\.0\.1:\d+$/);
    const res = await fetch(`http://${server.address}/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^airlock_up 1$/m);
    assert.equal((await fetch(`http://${server.address}/`)).status, 404);
    assert.equal((await fetch(`http://${server.address}/metrics`, { method: 'POST' })).status, 404);
  } finally {
    await server.close();
  }
  // Negative control: allowed, the same wildcard address binds.
  const open = await serveMetrics({ listen: '0.0.0.0:0', allowNonLoopback: true, registry: m.registry });
  await open.close();
});

test('a bounded label never takes more than its cap of values, and never one of the wrong shape', () => {
  const label = new BoundedLabel(/^airlock:[a-z-]+$/, 5);
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) seen.add(label.value(`airlock:code-${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26) % 26)}`));
  assert.equal(seen.size, 6); // five values, then `other`
  assert.ok(seen.has('other'));
  assert.equal(label.value('airlock:code-aa'), 'airlock:code-aa', 'a value seen before keeps its label');
  assert.equal(label.value('not a code'), 'other');
  assert.equal(label.value(undefined), 'other');
});

test('refusal reasons become classes: the wording of approve/ maps, names and ids do not leak', () => {
  const cases: Array<[string, string]> = [
    ['decisions must come from a human, not a agent', 'not_human'],
    ['bot@example.com is an identity of the agent claude: an agent can never decide', 'agent'],
    ['planned by runner other-1, so only it can take the decision', 'other_runner'],
    ['the nonce was issued by runner other-1, so only it can take the decision', 'other_runner'],
    ['replayed: this nonce was already used', 'replayed'],
    ["the nonce was issued to alice, but the reply came on bob's reply topic", 'wrong_topic'],
    ['this plan needs an explicit confirmation (tier confirm): deletes 2', 'needs_confirmation'],
    ['unknown or already used nonce', 'bad_nonce'],
    ['bound to a different plan file', 'plan_mismatch'],
    ['superseded by a newer head', 'stale'],
    ['expired', 'stale'],
    ['run is applied', 'run_state'],
    ['run changed while deciding', 'race'],
    ['no such run', 'unknown_run'],
    ['something new', 'other'],
  ];
  for (const [reason, cls] of cases) assert.equal(refusalClass(reason), cls, reason);
  for (const [, cls] of cases) assert.ok((REFUSAL_REASONS as readonly string[]).includes(cls));
});

test('records and moves are counted by class: no approver, address, file, run id or sha reaches the exposition', async () => {
  const m = createMetrics({ version: 'test' }, { defaultMetrics: false });
  const secretish = ['alice@example.com', 'aws_instance.db', 'modules/evil/main.tf', 'r-0123456789abcdef', 'f'.repeat(40)];
  observeRecord(m, { type: 'approval.refused', actor: { kind: 'human' }, detail: { reason: 'alice@example.com is an identity of the agent claude: an agent can never decide', approver: 'alice@example.com' } }, 0.002, true);
  observeRecord(m, { type: 'plan.refused', detail: { code: 'airlock:guard-refused', reasons: ['[committed-state] modules/evil/main.tf aws_instance.db: no', '[file-function] x.tf: no', 'free text without a rule'] } }, 0.001, true);
  observeRecord(m, { type: 'plan.retry', detail: { code: 'airlock:vault-sealed', message: 'sealed' } }, 0.001, true);
  observeRecord(m, { type: 'approval.undelivered', detail: { code: 'airlock:ntfy-unauthorized' } }, 0.001, true);
  observeRecord(m, { type: 'approval.granted', actor: { kind: 'human' } }, 0.001, true);
  observeRecord(m, { type: 'audit.recovered' }, 0.5, false);
  const run = { id: 'r-0123456789abcdef', sha: 'f'.repeat(40), state: 'applied', approval: { requestedAt: new Date(Date.now() - 90_000).toISOString() }, apply: { startedAt: new Date(Date.now() - 5000).toISOString(), finishedAt: new Date().toISOString() } } as unknown as Run;
  observeMove(m, { run, from: 'awaiting_approval', to: 'approved', type: 'approval.granted', actor: { kind: 'human', id: 'alice@example.com' } });
  observeMove(m, { run, from: 'applying', to: 'applied', type: 'apply.finished', actor: { kind: 'runner', id: 'test' } });
  const text = await m.registry.metrics();
  const series = parseSeries(text);
  assert.equal(sample(series, 'airlock_approval_refusals_total', { reason: 'agent' }), 1);
  assert.equal(sample(series, 'airlock_guard_refusals_total', { rule: 'committed-state' }), 1);
  assert.equal(sample(series, 'airlock_guard_refusals_total', { rule: 'file-function' }), 1);
  assert.equal(sample(series, 'airlock_vault_errors_total', { code: 'airlock:vault-sealed' }), 1);
  assert.equal(sample(series, 'airlock_ntfy_errors_total', { code: 'airlock:ntfy-unauthorized' }), 1);
  assert.equal(sample(series, 'airlock_approval_undelivered_total'), 1);
  assert.equal(sample(series, 'airlock_approval_decisions_total', { decision: 'approve', actor: 'human' }), 1);
  assert.equal(sample(series, 'airlock_audit_append_duration_seconds_count'), 5, 'a failed append is not timed as a success');
  assert.equal(sample(series, 'airlock_runs_finished_total', { kind: 'apply', state: 'applied' }), 1);
  assert.equal(sample(series, 'airlock_decision_wait_seconds_bucket', { outcome: 'approved', le: '60' }), 0);
  assert.equal(sample(series, 'airlock_decision_wait_seconds_bucket', { outcome: 'approved', le: '120' }), 1);
  assert.equal(sample(series, 'airlock_apply_duration_seconds_bucket', { outcome: 'applied', le: '5' }), 1);
  assert.deepEqual(leaks(text, secretish), []);
  // Negative control: the leak check does see these strings when they are there.
  assert.deepEqual(leaks(`${text}\n# alice@example.com aws_instance.db`, secretish), ['alice@example.com', 'aws_instance.db']);
});
