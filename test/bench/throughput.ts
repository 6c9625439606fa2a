// Throughput: 500 PR heads across 50 repos planned with a zero-time engine, by one runner process and then
// by two on one Redis. Plans per second, and the invariant that no head is planned twice: that one may
// fail the benchmark, the timing never does.
import assert from 'node:assert/strict';
import path from 'node:path';
import { RunStore } from '../../src/run/run-store.ts';
import { connectRedis } from '../../src/queue/queues.ts';
import { engineLogFifo, makeRepos, nowMs, round, waitUntil, writeBenchConfig, zeroEngine, type Benchmark, type BenchResult, type Figure, type Scope } from './bench-support.ts';
import { cpuBetween, startProbe } from './probe.ts';
import { freePort } from '../metrics/scrape.ts';

// BENCH_THROUGHPUT_REPOS scales the run down on a busy machine (10 heads per repo).
const REPOS = Number(process.env['BENCH_THROUGHPUT_REPOS'] ?? 50);
const PRS_PER_REPO = 10;
const HEADS = REPOS * PRS_PER_REPO;
// Plans are mostly waiting on git and engine child processes; see BENCHMARKS.md for the sweep behind 8.
export const PLAN_CONCURRENCY = Number(process.env['BENCH_PLAN_CONCURRENCY'] ?? 8);

interface Phase {
  runners: number;
  /** Metrics on, scraped every second while the plans run. */
  metrics: boolean;
  /** false: one sandbox per engine command (engine.sandbox.sessions false), as before sessions. */
  sessions: boolean;
  scrapes: number;
  plansPerSecond: number;
  windowMs: number;
  startToLastMs: number;
  cpu: Array<{ processPct: number; childrenPct: number; maxRssMB: number }>;
  /** CPU of the runner processes and their exited children over the phase, ms. */
  cpuMs: number;
  states: Record<string, number>;
  enginePlans: number;
  runs: number;
  failedJobs: number;
}

async function runPhase(scope: Scope, root: string, repos: Array<{ name: string; url: string }>, engine: string, runners: number, opts: { metrics?: boolean; sessions?: boolean } = {}): Promise<Phase> {
  const metrics = opts.metrics === true;
  const sessions = opts.sessions !== false;
  const tag = `${runners}${metrics ? 'm' : ''}${sessions ? '' : 'p'}`;
  const prefix = scope.prefix(`throughput-${tag}`);
  const ports: number[] = [];
  const engineLog = await engineLogFifo(scope, `throughput-${tag}`);
  const configs = [];
  for (let k = 1; k <= runners; k++) {
    configs.push(
      await writeBenchConfig({
        runnerId: `tp${tag}-${k}`,
        dataDir: path.join(root, `tp${tag}-${k}`, 'data'),
        prefix,
        repos: repos.map((r) => ({ ...r, pollInterval: '10s' })),
        engine: { binary: engine, env: { ZERO_ENGINE_LOG: engineLog.path } },
        planConcurrency: PLAN_CONCURRENCY,
        sessions,
        ...(metrics ? { metrics: { listen: `127.0.0.1:${ports[ports.push(await freePort()) - 1]}` } } : {}),
      }),
    );
  }
  const redis = connectRedis(configs[0]!.config.redis.url);
  scope.defer(async () => redis.disconnect());
  const started = nowMs();
  const probes = await Promise.all(configs.map((c) => startProbe(scope, c.file)));
  const before = await Promise.all(probes.map((p) => p.stats()));
  const bull = `${prefix}:bull:plan`;
  // As Prometheus would: every runner scraped once a second while it works.
  let scrapes = 0;
  const scraper = setInterval(() => {
    for (const port of ports) void fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).then(() => scrapes++, () => undefined);
  }, 1000);
  scope.defer(async () => clearInterval(scraper));
  await waitUntil(`${HEADS} plans to finish`, async () => {
    const [runs, done, failed] = await Promise.all([redis.zcard(`${prefix}:runs`), redis.zcard(`${bull}:completed`), redis.zcard(`${bull}:failed`)]);
    return runs === HEADS && done + failed === HEADS;
  }, 300_000, 100);
  const after = await Promise.all(probes.map((p) => p.stats()));
  clearInterval(scraper);

  const runIds = await redis.zrange(`${prefix}:runs`, '0', '-1');
  const pipeline = redis.pipeline();
  for (const id of runIds) pipeline.hmget(`${bull}:plan-${id}`, 'timestamp', 'finishedOn');
  const times = ((await pipeline.exec()) ?? []).map(([, v]) => (v as string[]).map(Number));
  const firstEnqueued = Math.min(...times.map((t) => t[0]!));
  const lastFinished = Math.max(...times.map((t) => t[1]!));
  const states: Record<string, number> = {};
  for (const run of await new RunStore(redis, prefix).list(HEADS * 2)) states[run.state] = (states[run.state] ?? 0) + 1;
  const enginePlans = engineLog.lines().filter((l) => l.startsWith('plan ')).length;
  const failedJobs = await redis.zcard(`${bull}:failed`);
  await Promise.all(probes.map((p) => p.stop()));
  const windowMs = lastFinished - firstEnqueued;
  return {
    runners,
    metrics,
    sessions,
    scrapes,
    plansPerSecond: HEADS / (windowMs / 1000),
    windowMs,
    startToLastMs: lastFinished - started,
    cpuMs: round(before.reduce((sum, b, i) => sum + (after[i]!.userUs - b.userUs + after[i]!.systemUs - b.systemUs + after[i]!.childrenUs - b.childrenUs) / 1000, 0)),
    cpu: before.map((b, i) => {
      const c = cpuBetween(b, after[i]!);
      return { processPct: round(c.processPct), childrenPct: round(c.childrenPct), maxRssMB: round((after[i]!.maxRssKiB * 1024) / 1e6) };
    }),
    states,
    enginePlans,
    runs: runIds.length,
    failedJobs,
  };
}

export const throughput: Benchmark = {
  name: 'throughput',
  title: `Throughput (${HEADS} PR heads, ${REPOS} repos, zero-time engine)`,
  async run(scope): Promise<BenchResult> {
    const root = await scope.tempDir('throughput');
    const { repos } = await makeRepos(root, { copies: REPOS, prs: PRS_PER_REPO, files: { 'main.tf': 'resource "terraform_data" "a" {\n  input = "zero"\n}\n' } });
    const engine = await zeroEngine(root);
    const phases: Phase[] = [];
    // BENCH_THROUGHPUT_RUNNERS=2 runs one phase only (for profiling).
    const counts = process.env['BENCH_THROUGHPUT_RUNNERS'] ? [Number(process.env['BENCH_THROUGHPUT_RUNNERS'])] : [1, 2];
    // The before side: one runner with one sandbox per engine command (no sessions).
    const perCommand = counts.includes(1) ? await runPhase(scope, root, repos, engine, 1, { sessions: false }) : null;
    for (const runners of counts) phases.push(await runPhase(scope, root, repos, engine, runners));
    // The cost of metrics: one runner again, metrics on and scraped every second.
    const off = phases.find((p) => p.runners === 1);
    const on = off ? await runPhase(scope, root, repos, engine, 1, { metrics: true }) : null;

    // The invariant: one engine plan and one run per head, whichever runner took it.
    for (const p of [...phases, ...(perCommand ? [perCommand] : [])]) {
      assert.equal(p.runs, HEADS, `${p.runners} runner(s): ${p.runs} runs for ${HEADS} heads`);
      assert.equal(p.enginePlans, HEADS, `${p.runners} runner(s): ${p.enginePlans} engine plan invocations for ${HEADS} heads (a head planned twice?)`);
    }
    if (on) {
      assert.equal(on.runs, HEADS);
      assert.equal(on.enginePlans, HEADS);
      assert.ok(on.scrapes > 0, 'the metrics listener answered');
    }
    const goal = (runners: number) => (runners === 1 ? 30 : 50);
    const cpuPerPlan = (p: Phase) => round(p.cpuMs / HEADS);
    const figures: Figure[] = phases.flatMap((p) => [
      { figure: `${p.runners} runner process${p.runners > 1 ? 'es' : ''}: plans/s`, value: round(p.plansPerSecond), unit: '/s', goal: `≥ ${goal(p.runners)}/s`, met: p.plansPerSecond >= goal(p.runners) },
      { figure: `${p.runners} runner process${p.runners > 1 ? 'es' : ''}: engine plans / runs`, value: p.enginePlans, unit: `/ ${p.runs} (no double plans)` },
      { figure: `${p.runners} runner process${p.runners > 1 ? 'es' : ''}: CPU per plan (runners + their children)`, value: cpuPerPlan(p), unit: 'ms' },
    ]);
    if (perCommand && off) {
      figures.push({ figure: '1 runner process, one sandbox per engine command (before sessions): plans/s', value: round(perCommand.plansPerSecond), unit: '/s' });
      figures.push({ figure: '1 runner process, one sandbox per engine command: CPU per plan', value: cpuPerPlan(perCommand), unit: 'ms' });
      figures.push({ figure: 'plans/s one sandbox per job ÷ per command (1 runner)', value: round(off.plansPerSecond / perCommand.plansPerSecond, 2), unit: '×' });
    }
    if (on && off) {
      figures.push({ figure: '1 runner process, metrics on (scraped 1/s): plans/s', value: round(on.plansPerSecond), unit: '/s' });
      figures.push({ figure: 'plans/s metrics on ÷ off (1 runner)', value: round(on.plansPerSecond / off.plansPerSecond, 2), unit: '×' });
      figures.push({ figure: 'runner CPU % metrics on ÷ off (1 runner)', value: round(on.cpu[0]!.processPct / off.cpu[0]!.processPct, 2), unit: '×' });
    }
    phases.push(...(on ? [on] : []), ...(perCommand ? [perCommand] : []));
    return {
      figures,
      data: { heads: HEADS, repos: REPOS, planConcurrency: PLAN_CONCURRENCY, pollInterval: '10s', phases },
      notes: [
        `plans.concurrency ${PLAN_CONCURRENCY} per runner process. plans/s = ${HEADS} / (last plan job finished − first plan job enqueued), BullMQ’s own timestamps; every run ends awaiting_approval (approval requested on the terminal channel).`,
      ],
    };
  },
};
