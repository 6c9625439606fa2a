// Watcher cost: one runner process watching 200 repos × 5 PR refs at a 10 s interval, in steady state (every
// head already known), over 30 s, once listing with git ls-remote (before) and once reading the file:// remotes
// in process: its own CPU as % of one core, its children's (git) CPU, and its peak RSS.
import path from 'node:path';
import { RunStore } from '../../src/run/run-store.ts';
import { connectRedis } from '../../src/queue/queues.ts';
import { engineLogFifo, makeRepos, round, sleep, writeBenchConfig, zeroEngine, type Benchmark, type BenchResult, type Scope } from './bench-support.ts';
import { cpuBetween, startProbe, type ProbeStats } from './probe.ts';

const REPOS = 200;
const REFS = 5;
const INTERVAL = '10s';
const INTERVAL_MS = 10_000;
const WARMUP_MS = 8_000;
const WINDOW_MS = 30_000;

interface Measured {
  cpu: ReturnType<typeof cpuBetween>;
  end: ProbeStats;
  peakMB: number;
  timeline: Array<{ s: number; rssMB: number; heapMB: number }>;
}

/** One runner process watching every repo for WARMUP_MS + WINDOW_MS: its CPU over the window, its peak RSS. */
async function measure(scope: Scope, configFile: string, lsRemote: boolean): Promise<Measured> {
  const probe = await startProbe(scope, configFile, { watch: true, lsRemote });
  // RSS and heap every second, to show where the peak happens.
  const timeline: Measured['timeline'] = [];
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
  return { cpu: cpuBetween(start, end), end, peakMB: (end.maxRssKiB * 1024) / 1e6, timeline };
}

export const watcherCost: Benchmark = {
  name: 'watcher',
  title: `Watcher cost (${REPOS} repos × ${REFS} refs, ${INTERVAL} interval, ${WINDOW_MS / 1000} s each way)`,
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

    // Before: every poll a `git ls-remote` (as for an https or ssh remote); after: the file:// remotes read
    // in process. The same runs, one runner after the other.
    const viaGit = await measure(scope, loaded.file, true);
    const inProcess = await measure(scope, loaded.file, false);
    const plans = engineLog.lines().filter((l) => l.startsWith('plan ')).length;
    const polls = REPOS * (WINDOW_MS / INTERVAL_MS);
    const figuresOf = (m: Measured, label: string) => {
      const total = m.cpu.processPct + m.cpu.childrenPct;
      return [
        { figure: `${label}: runner process CPU (% of one core)`, value: round(m.cpu.processPct, 2), unit: '%', goal: '≤ 3 %', met: m.cpu.processPct <= 3 },
        { figure: `${label}: runner + children’s CPU (% of one core)`, value: round(total, 2), unit: '%', goal: '≤ 8 %', met: total <= 8 },
        { figure: `${label}: CPU per poll, runner`, value: round((m.cpu.processPct / 100) * (m.cpu.wallMs / polls), 2), unit: 'ms' },
        { figure: `${label}: CPU per poll, children`, value: round((m.cpu.childrenPct / 100) * (m.cpu.wallMs / polls), 2), unit: 'ms' },
        { figure: `${label}: runner peak RSS`, value: round(m.peakMB), unit: 'MB', goal: '≤ 100 MB', met: m.peakMB <= 100 },
        { figure: `${label}: runner event-loop delay, max in the window`, value: round(m.end.loopDelayMaxMs), unit: 'ms' },
      ];
    };
    return {
      figures: [...figuresOf(inProcess, 'file:// read in process'), ...figuresOf(viaGit, 'git ls-remote per poll (before; https/ssh remotes)')],
      data: {
        repos: REPOS,
        refsPerRepo: REFS,
        interval: INTERVAL,
        warmupMs: WARMUP_MS,
        enginePlansDuringRun: plans,
        inProcess: { windowMs: round(inProcess.cpu.wallMs), rssAtEndMB: round(inProcess.end.rssBytes / 1e6), loopDelayP99Ms: round(inProcess.end.loopDelayP99Ms), timeline: inProcess.timeline },
        viaGit: { windowMs: round(viaGit.cpu.wallMs), rssAtEndMB: round(viaGit.end.rssBytes / 1e6), loopDelayP99Ms: round(viaGit.end.loopDelayP99Ms), timeline: viaGit.timeline },
      },
      notes: [
        `Two runner processes one after the other on the same ${REPOS * REFS} known heads: one listing every remote with \`git ls-remote\` (startRunner listViaGit, as for https and ssh remotes), one reading the file:// remotes in process (the default for file://). CPU is process.cpuUsage() inside the runner between two snapshots ${WINDOW_MS / 1000} s apart, after an ${WARMUP_MS / 1000} s warm-up (the first round sights every known head); children’s CPU is cutime+cstime from /proc/self/stat (exited git processes). Peak RSS is the process’s maxRSS over its whole life. Engine plans during the run: ${plans} (expected 0).`,
      ],
    };
  },
};
