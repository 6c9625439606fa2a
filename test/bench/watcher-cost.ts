// Watcher cost: one runner process watching 200 repos × 5 PR refs at a 10 s interval, in steady state (every
// head already known), over 60 s: its own CPU as % of one core, its children's (git) CPU, and its peak RSS.
import path from 'node:path';
import { RunStore } from '../../src/run/run-store.ts';
import { connectRedis } from '../../src/queue/queues.ts';
import { engineLogFifo, makeRepos, round, sleep, writeBenchConfig, zeroEngine, type Benchmark, type BenchResult } from './bench-support.ts';
import { cpuBetween, startProbe } from './probe.ts';

const REPOS = 200;
const REFS = 5;
const INTERVAL = '10s';
const WARMUP_MS = 8_000;
const WINDOW_MS = 60_000;

export const watcherCost: Benchmark = {
  name: 'watcher',
  title: `Watcher cost (${REPOS} repos × ${REFS} refs, ${INTERVAL} interval, ${WINDOW_MS / 1000} s)`,
  async run(scope): Promise<BenchResult> {
    const root = await scope.tempDir('watcher');
    const { repos, heads } = await makeRepos(root, { copies: REPOS, prs: REFS, files: { 'main.tf': 'resource "terraform_data" "a" {\n  input = "watch"\n}\n' } });
    const engineLog = await engineLogFifo(scope, 'watcher');
    const prefix = scope.prefix('watcher');
    const loaded = await writeBenchConfig({
      runnerId: 'watcher',
      dataDir: path.join(root, 'data'),
      prefix,
      repos: repos.map((r) => ({ ...r, pollInterval: INTERVAL })),
      engine: { binary: await zeroEngine(root), env: { ZERO_ENGINE_LOG: engineLog.path } },
    });

    // Steady state: every head was already planned, as after a restart of a runner that has caught up.
    const redis = connectRedis(loaded.config.redis.url);
    scope.defer(async () => redis.disconnect());
    const runs = new RunStore(redis, prefix);
    const seenAt = Date.now();
    for (const repo of repos) {
      for (const head of heads) {
        const { run } = await runs.create({ repo: repo.name, ref: head.ref, pr: head.pr, sha: head.sha, workspace: 'default', seenAt });
        await runs.moveIf(run.id, ['planning'], 'no_changes');
      }
    }

    const probe = await startProbe(scope, loaded.file, { watch: true });
    // RSS and heap every second, to show where the peak happens.
    const timeline: Array<{ s: number; rssMB: number; heapMB: number }> = [];
    const t0 = Date.now();
    const sampler = setInterval(() => {
      void probe.stats().then((st) => timeline.push({ s: round((Date.now() - t0) / 1000), rssMB: round(st.rssBytes / 1e6), heapMB: round(st.heapUsedBytes / 1e6) }), () => undefined);
    }, 1000);
    await sleep(WARMUP_MS);
    const start = await probe.window();
    await sleep(WINDOW_MS);
    const end = await probe.stats();
    clearInterval(sampler);
    await probe.stop();
    const cpu = cpuBetween(start, end);
    const peakMB = (end.maxRssKiB * 1024) / 1e6;
    const plans = engineLog.lines().filter((l) => l.startsWith('plan ')).length;
    return {
      figures: [
        { figure: 'runner process CPU (% of one core)', value: round(cpu.processPct, 2), unit: '%', goal: '≤ 5 %', met: cpu.processPct <= 5 },
        { figure: 'its children’s CPU (git ls-remote), % of one core', value: round(cpu.childrenPct, 2), unit: '%' },
        { figure: 'runner peak RSS', value: round(peakMB), unit: 'MB', goal: '≤ 150 MB', met: peakMB <= 150 },
        { figure: 'runner event-loop delay, max in the window', value: round(end.loopDelayMaxMs), unit: 'ms' },
      ],
      data: { repos: REPOS, refsPerRepo: REFS, interval: INTERVAL, warmupMs: WARMUP_MS, windowMs: round(cpu.wallMs), rssAtEndMB: round(end.rssBytes / 1e6), loopDelayP99Ms: round(end.loopDelayP99Ms), enginePlansDuringRun: plans, timeline },
      notes: [
        `CPU is process.cpuUsage() inside the runner process between two snapshots ${WINDOW_MS / 1000} s apart, after an ${WARMUP_MS / 1000} s warm-up (the first round sights all ${REPOS * REFS} known heads); children’s CPU is cutime+cstime from /proc/self/stat (exited git processes). Peak RSS is the process’s maxRSS over its whole life. Engine plans during the run: ${plans} (expected 0).`,
      ],
    };
  },
};
