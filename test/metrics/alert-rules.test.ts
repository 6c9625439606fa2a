// deploy/alerts/airlock.rules.yml under the real promtool (Debian's `prometheus` package): its unit tests
// pass, they fail when a rule is broken (negative controls), every airlock_* name a rule reads is one a
// real runner process exports, the exposition passes `promtool check metrics`, and a real Prometheus
// scrapes the runner, evaluates every rule without error and answers every query of the Grafana dashboard.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { configFixture } from '../support/config-fixture.ts';
import { waitFor } from '../support/harness.ts';
import { spawnRunner, stopRunner } from '../support/spawn-runner.ts';
import { exportedNames, freePort } from './scrape.ts';

const ALERTS = path.resolve(import.meta.dirname, '../../deploy/alerts');
const RULES = path.join(ALERTS, 'airlock.rules.yml');
const DASHBOARD = path.resolve(import.meta.dirname, '../../deploy/grafana/airlock.dashboard.json');

/** The dashboard's queries, with Grafana's variables replaced as Grafana would for "All" and a 1m step. */
async function dashboardQueries(): Promise<string[]> {
  const dash = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }> };
  return dash.panels.flatMap((p) => p.targets.map((t) => t.expr.replaceAll('$instance', '.*').replaceAll('$__rate_interval', '1m')));
}
const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const noPromtool = has('promtool') ? false : 'promtool is not installed (Debian: apt-get install prometheus; .ci/run installs it)';
const noPrometheus = has('prometheus') ? false : 'prometheus is not installed (Debian: apt-get install prometheus; .ci/run installs it)';

/** promtool's exit code and output; never throws. */
async function promtool(args: string[], input?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('promtool', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
    child.stdin.end(input ?? '');
  });
}

/** The rule unit tests run on a copy of the rules with `mutate` applied. */
async function testMutated(mutate: (rules: string) => string): Promise<{ code: number; out: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-rules-'));
  try {
    await writeFile(path.join(dir, 'airlock.rules.yml'), mutate(await readFile(RULES, 'utf8')));
    await copyFile(path.join(ALERTS, 'airlock.rules.test.yml'), path.join(dir, 'airlock.rules.test.yml'));
    return await promtool(['test', 'rules', path.join(dir, 'airlock.rules.test.yml')]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Only the airlock_* families of an exposition (their HELP, TYPE and samples). */
function airlockFamilies(text: string): string {
  return text.split('\n').filter((l) => /^(# (HELP|TYPE) )?airlock_/.test(l)).join('\n') + '\n';
}

/** The airlock_* metric names the rule expressions read. */
function namesInRules(text: string): Set<string> {
  const exprs = [...text.matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1]!);
  return new Set(exprs.flatMap((e) => [...e.matchAll(/\bairlock_[a-z0-9_]+/g)].map((m) => m[0])));
}

test('the alert rules pass their promtool unit tests: each fires on its series and not on the quiet runner', { skip: noPromtool }, async () => {
  const checked = await promtool(['check', 'rules', RULES]);
  assert.equal(checked.code, 0, checked.out);
  const tested = await promtool(['test', 'rules', path.join(ALERTS, 'airlock.rules.test.yml')]);
  assert.equal(tested.code, 0, tested.out);
  assert.match(tested.out, /SUCCESS/);
});

test('the rule tests fail when a rule is broken (negative controls)', { skip: noPromtool }, async () => {
  // An apply-without-approval rule that cannot fire: the firing series must catch it.
  const deaf = await testMutated((r) => r.replace('increase(airlock_apply_unapproved_total[15m]) > 0', 'increase(airlock_apply_unapproved_total[15m]) > 1000'));
  assert.notEqual(deaf.code, 0);
  assert.match(deaf.out, /AirlockApplyWithoutApproval/);
  // A runner-down rule that fires on a healthy runner: the quiet series (r2) must catch it.
  const loud = await testMutated((r) => r.replace('up{job="airlock"} == 0', 'up{job="airlock"} < 2'));
  assert.notEqual(loud.code, 0);
  assert.match(loud.out, /AirlockRunnerDown[\s\S]*instance="r2"/);
  // A witness gap measured on a name nobody exports never fires.
  const renamed = await testMutated((r) => r.replace('airlock_audit_last_witness_timestamp_seconds', 'airlock_witness_last_seconds'));
  assert.notEqual(renamed.code, 0);
  assert.match(renamed.out, /AirlockWitnessGap/);
});

test('every metric a rule reads is exported by a real runner process, and the exposition passes promtool check metrics', { skip: noPromtool }, async (t) => {
  const port = await freePort();
  const fx = await configFixture(t, { metrics: { listen: `127.0.0.1:${port}` } });
  const runner = await spawnRunner(fx.file);
  t.after(() => stopRunner(runner));
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const exported = exportedNames(text);
  const read = namesInRules(await readFile(RULES, 'utf8'));
  assert.ok(read.size >= 8, `the rules read ${[...read].join(', ')}`);
  assert.deepEqual([...read].filter((n) => !exported.has(n)), [], 'names the rules read but no runner exports');
  const shown = namesInRules((await dashboardQueries()).map((q) => `    expr: ${q}`).join('\n'));
  assert.ok(shown.size >= 12, `the dashboard reads ${[...shown].join(', ')}`);
  assert.deepEqual([...shown].filter((n) => !exported.has(n)), [], 'names the dashboard reads but no runner exports');
  // Negative control: the same comparison flags a name the runner does not export.
  assert.deepEqual([...namesInRules('    expr: rate(airlock_up[5m]) + airlock_made_up_total')].filter((n) => !exported.has(n)), ['airlock_made_up_total']);
  // prom-client's own nodejs_active_*_total gauges break one naming rule upstream; nothing else may.
  const lint = await promtool(['check', 'metrics'], text);
  const problems = lint.out.split('\n').filter((l) => l.trim() !== '');
  assert.deepEqual(problems.filter((l) => !/^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/.test(l)), []);
  const ours = await promtool(['check', 'metrics'], airlockFamilies(text));
  assert.equal(ours.code, 0, ours.out);
});

test('a real Prometheus scrapes a runner and evaluates every rule without error', { skip: noPrometheus || noPromtool }, async (t) => {
  const [metricsPort, webPort] = [await freePort(), await freePort()];
  const fx = await configFixture(t, { metrics: { listen: `127.0.0.1:${metricsPort}` } });
  const runner = await spawnRunner(fx.file);
  t.after(() => stopRunner(runner));
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-prom-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await copyFile(RULES, path.join(dir, 'airlock.rules.yml'));
  await writeFile(path.join(dir, 'prometheus.yml'), [
    'global: { scrape_interval: 1s, evaluation_interval: 1s }',
    'rule_files: [airlock.rules.yml]',
    'scrape_configs:',
    `  - job_name: airlock`,
    `    static_configs: [{ targets: ["127.0.0.1:${metricsPort}"] }]`,
    '',
  ].join('\n'));
  const prom = spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${webPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let promLog = '';
  prom.stderr.on('data', (d: Buffer) => (promLog += d.toString()));
  t.after(async () => {
    if (prom.exitCode === null) {
      const exited = new Promise((r) => prom.once('exit', r));
      prom.kill('SIGTERM');
      await exited;
    }
  });
  const api = async (q: string) => (await (await fetch(`http://127.0.0.1:${webPort}/api/v1/${q}`)).json()) as { status: string; data: any };
  const up = await waitFor(`Prometheus to scrape the runner (${promLog.slice(-300)})`, async () => {
    const r = await api(`query?query=${encodeURIComponent('up{job="airlock"}')}`);
    return r.data?.result?.[0]?.value?.[1] === '1' ? r : undefined;
  }, 60_000);
  assert.equal(up.status, 'success');
  const airlockUp = await api(`query?query=airlock_up`);
  assert.equal(airlockUp.data.result[0]?.value?.[1], '1');
  // Every rule has been evaluated against the runner's real series, and none errored.
  const rules = await waitFor('every rule evaluated', async () => {
    const r = await api('rules');
    const all = r.data.groups.flatMap((g: any) => g.rules) as Array<{ name: string; health: string; lastError?: string }>;
    return all.length > 0 && all.every((x) => x.health !== 'unknown') ? all : undefined;
  }, 30_000);
  assert.deepEqual(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`), []);
  // Every dashboard query is PromQL this Prometheus accepts.
  for (const q of await dashboardQueries()) {
    const r = await api(`query?query=${encodeURIComponent(q)}`);
    assert.equal(r.status, 'success', `${q}: ${JSON.stringify(r)}`);
  }
  // A fresh runner is healthy: nothing fires (pending RunnerAbsent cannot exist with the target up).
  const firing = await api(`query?query=${encodeURIComponent('ALERTS{alertstate="firing"}')}`);
  assert.deepEqual(firing.data.result, []);
});
