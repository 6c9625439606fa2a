// Start-up and memory (issue 17): wall time and peak RSS of `airlock --help` and `airlock runs`, and a
// started runner's RSS at rest, for three ways of running the CLI, interleaved in one run:
//   before  the code before the build and the lazy imports (BASE_COMMIT), through tsx as its bin.js did;
//   source  today's sources through tsx (AIRLOCK_FROM_SOURCE=1): the lazy imports alone;
//   build   today's dist/ (built at the start of the benchmark), no tsx: what `npm ci` installs.
// `node -e 0` gives the floor. Every process is `node src/cli/bin.js …` spawned from here, as an operator
// runs it; its peak RSS is its own maxRSS, written at exit by a one-line preload (the same for all).
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { connectRedis } from '../../src/queue/redis-connection.ts';
import { RunStore } from '../../src/run/run-store.ts';
import { git } from '../git-fixtures.ts';
import { median, round, sleep, writeBenchConfig, zeroEngine, type Benchmark, type BenchResult, type Figure, type Scope } from './bench-support.ts';
import { BASE_COMMIT, prepareVariants, procMemory, startRunnerProcess, type Variant } from './cli-variants.ts';
const CLI_REPS = Number(process.env['BENCH_STARTUP_REPS'] ?? 5);
const RUNNER_REPS = Number(process.env['BENCH_STARTUP_RUNNER_REPS'] ?? 2);
/** How long a started runner rests (watching one repo every second) before its RSS is read. */
const IDLE_MS = 3_000;
const SEEDED_RUNS = 5;
const GOAL_WALL_MS = 250;
const GOAL_IDLE_MB = 80;

// Written to fd 3 at exit: the process's own peak RSS and CPU time (user + system, µs). CPU time hardly
// moves with the machine's load, wall time does: on a busy machine, CPU is the figure to compare.
const PEAK_PRELOAD = `data:text/javascript,${encodeURIComponent("import { writeSync } from 'node:fs'; process.on('exit', () => { try { const u = process.resourceUsage(); writeSync(3, JSON.stringify([u.maxRSS, u.userCPUTime + u.systemCPUTime])); } catch {} });")}`;

interface Sample {
  wallMs: number;
  cpuMs: number;
  peakMB: number;
}

const MB = (kib: number) => (kib * 1024) / 1e6;

/** One process to its end: wall time from spawn to exit, and its own peak RSS. Throws when it fails. */
function measure(args: string[], env: Record<string, string | undefined>): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', PEAK_PRELOAD, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let err = '';
    let peak = '';
    child.stdout!.resume();
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdio[3]!.on('data', (d: Buffer) => (peak += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const wallMs = performance.now() - started;
      if (code !== 0 || err !== '') return reject(new Error(`node ${args.join(' ')} exited ${code}: ${err.slice(0, 500)}`));
      const [maxRssKiB, cpuUs] = JSON.parse(peak) as [number, number];
      resolve({ wallMs, cpuMs: cpuUs / 1000, peakMB: MB(maxRssKiB) });
    });
  });
}

/** A started runner: time until it logged `runner started`, then its RSS after IDLE_MS at rest. */
async function runnerAtRest(scope: Scope, v: Variant, configFile: string, nodeFlags: string[] = []): Promise<{ readyMs: number; rssMB: number; hwmMB: number }> {
  const runner = await startRunnerProcess(scope, v, configFile, nodeFlags);
  try {
    await sleep(IDLE_MS);
    return { readyMs: runner.readyMs, ...(await procMemory(runner.child.pid!)) };
  } finally {
    await runner.stop();
  }
}

/** Figures for one measured thing across the variants: medians, and build ÷ before. */
function figuresFor(label: string, samples: Record<string, Sample[]>, goal?: { ms: number }): Figure[] {
  const wall = (n: string) => (samples[n]?.length ? median(samples[n]!.map((s) => s.wallMs)) : null);
  const peak = (n: string) => (samples[n]?.length ? median(samples[n]!.map((s) => s.peakMB)) : null);
  const cpu = (n: string) => (samples[n]?.length ? round(median(samples[n]!.map((s) => s.cpuMs))) : 'n/a');
  const b = wall('build');
  const before = wall('before');
  return [
    { figure: `${label}: wall, build (median of ${samples['build']!.length})`, value: b === null ? null : round(b), unit: 'ms', ...(goal ? { goal: `≤ ${goal.ms} ms`, met: b !== null && b <= goal.ms } : {}) },
    { figure: `${label}: wall, source through tsx`, value: wall('source') === null ? null : round(wall('source')!), unit: 'ms' },
    { figure: `${label}: wall, before (${BASE_COMMIT} through tsx)`, value: before === null ? null : round(before), unit: 'ms' },
    { figure: `${label}: wall, build ÷ before`, value: b !== null && before ? round(b / before, 3) : null, unit: '×' },
    { figure: `${label}: CPU (user + sys), build / source / before`, value: cpu('build') === 'n/a' ? null : (cpu('build') as number), unit: `ms / ${cpu('source')} ms / ${cpu('before')} ms` },
    { figure: `${label}: peak RSS, build / source / before`, value: peak('build') === null ? null : round(peak('build')!), unit: `MB / ${peak('source') === null ? 'n/a' : round(peak('source')!)} MB / ${peak('before') === null ? 'n/a' : round(peak('before')!)} MB` },
  ];
}

export const startup: Benchmark = {
  name: 'startup',
  title: 'Start-up and memory: `airlock --help`, `airlock runs`, a runner at rest; before / source / build',
  async run(scope): Promise<BenchResult> {
    const root = await scope.tempDir('startup');
    const variants = await prepareVariants(scope);
    const hasBefore = variants.some((v) => v.name === 'before');

    // One repo with no pull requests, and a few finished runs for `airlock runs` to list.
    const prefix = scope.prefix('startup');
    const remote = path.join(root, 'infra.git');
    await git(['init', '--bare', '--quiet', remote]);
    const loaded = await writeBenchConfig({ runnerId: 'startup', dataDir: path.join(root, 'data'), prefix, repos: [{ name: 'infra', url: `file://${remote}` }], engine: { binary: await zeroEngine(root) } });
    await mkdir(loaded.config.runner.dataDir, { recursive: true, mode: 0o700 });
    const redis = connectRedis(loaded.config.redis.url);
    scope.defer(async () => redis.disconnect());
    const store = new RunStore(redis, prefix);
    for (let pr = 1; pr <= SEEDED_RUNS; pr++) {
      const { run } = await store.create({ repo: 'infra', ref: `refs/pull/${pr}/head`, pr, sha: String(pr).repeat(40), workspace: 'default', seenAt: Date.now() });
      await store.moveIf(run.id, ['planning'], 'no_changes');
    }

    const commands = { help: ['--help'], runs: ['runs', '--config', loaded.file] };
    const samples: Record<string, Record<string, Sample[]>> = { help: {}, runs: {}, node: { node: [] } };
    for (const v of variants) for (const c of Object.keys(commands)) samples[c]![v.name] = [];
    // One warm-up of each (the page cache, tsx's transform cache), then interleaved repetitions in a
    // rotating order, so a slow moment of the machine does not land on one variant.
    for (const v of variants) for (const args of Object.values(commands)) await measure([v.bin, ...args], v.env);
    for (let rep = 0; rep < CLI_REPS; rep++) {
      const order = variants.map((_, i) => variants[(i + rep) % variants.length]!);
      samples['node']!['node']!.push(await measure(['-e', '0'], {}));
      for (const v of order) for (const [c, args] of Object.entries(commands)) samples[c]![v.name]!.push(await measure([v.bin, ...args], v.env));
    }

    const rest: Record<string, Array<{ readyMs: number; rssMB: number; hwmMB: number }>> = {};
    const runnerVariants: Array<{ label: string; v: Variant; flags: string[] }> = [
      ...variants.map((v) => ({ label: v.name, v, flags: [] })),
      { label: 'build, --max-semi-space-size=4', v: variants.find((v) => v.name === 'build')!, flags: ['--max-semi-space-size=4'] },
    ];
    for (let rep = 0; rep < RUNNER_REPS; rep++) {
      for (let i = 0; i < runnerVariants.length; i++) {
        const r = runnerVariants[(i + rep) % runnerVariants.length]!;
        (rest[r.label] ??= []).push(await runnerAtRest(scope, r.v, loaded.file, r.flags));
      }
    }
    const restMedian = (label: string, key: 'readyMs' | 'rssMB' | 'hwmMB') => (rest[label]?.length ? round(median(rest[label]!.map((s) => s[key]))) : null);
    const nodeFloor = samples['node']!['node']!;

    const figures: Figure[] = [
      ...figuresFor('`airlock --help`', samples['help']!, { ms: GOAL_WALL_MS }),
      ...figuresFor(`\`airlock runs\` (${SEEDED_RUNS} runs in Redis)`, samples['runs']!, { ms: GOAL_WALL_MS }),
      { figure: '`node -e 0` (the floor): wall / CPU / peak RSS', value: round(median(nodeFloor.map((s) => s.wallMs))), unit: `ms / ${round(median(nodeFloor.map((s) => s.cpuMs)))} ms / ${round(median(nodeFloor.map((s) => s.peakMB)))} MB` },
      { figure: `runner at rest (${IDLE_MS / 1000} s after start), RSS, build (median of ${RUNNER_REPS})`, value: restMedian('build', 'rssMB'), unit: 'MB', goal: `≤ ${GOAL_IDLE_MB} MB`, met: (restMedian('build', 'rssMB') ?? Infinity) <= GOAL_IDLE_MB },
      { figure: 'runner at rest, RSS, source through tsx', value: restMedian('source', 'rssMB'), unit: 'MB' },
      { figure: `runner at rest, RSS, before (${BASE_COMMIT} through tsx)`, value: restMedian('before', 'rssMB'), unit: 'MB' },
      { figure: 'runner at rest, RSS, build with node --max-semi-space-size=4', value: restMedian('build, --max-semi-space-size=4', 'rssMB'), unit: 'MB' },
      { figure: 'runner start → `runner started`, build / source / before', value: restMedian('build', 'readyMs'), unit: `ms / ${restMedian('source', 'readyMs')} ms / ${restMedian('before', 'readyMs')} ms` },
    ];
    return {
      figures,
      data: {
        baseCommit: hasBefore ? BASE_COMMIT : null,
        cli: Object.fromEntries(Object.entries(samples).map(([c, byVariant]) => [c, Object.fromEntries(Object.entries(byVariant).map(([v, s]) => [v, s.map((x) => ({ wallMs: round(x.wallMs), cpuMs: round(x.cpuMs), peakMB: round(x.peakMB) }))]))])),
        runnerAtRest: Object.fromEntries(Object.entries(rest).map(([k, s]) => [k, s.map((x) => ({ readyMs: round(x.readyMs), rssMB: round(x.rssMB), hwmMB: round(x.hwmMB) }))])),
      },
      notes: [
        `before = the tree at ${BASE_COMMIT} (git archive), run through its own bin.js (tsx registered at run time, every command's modules imported up front); source = today's src/ through tsx (AIRLOCK_FROM_SOURCE=1), i.e. the lazy imports without the build; build = today's dist/, built at the start of this benchmark, run by the same bin.js. ${hasBefore ? '' : `This clone lacks ${BASE_COMMIT}: no before figures. `}`,
        `Each CLI figure is the median of ${CLI_REPS} runs after one warm-up, variants interleaved in a rotating order; wall = spawn → exit as seen from the benchmark; CPU = the process's user + system time and peak RSS = its maxRSS (a one-line preload writes both at exit, for every variant). On a loaded machine wall time stretches with the load (see the \`node -e 0\` floor) and CPU time much less: compare CPU there. \`runs\` reads ${SEEDED_RUNS} finished runs from the shared Redis under a fresh prefix.`,
        `Runner at rest: \`airlock start\` with one repo (no pull requests, polled every second), the sandbox as the suite runs it and the zero-time engine; RSS is VmRSS ${IDLE_MS / 1000} s after the \`runner started\` log line. The --max-semi-space-size=4 row caps V8's young generation at 2 × 4 MB (default 2 × 16 MB).`,
      ],
    };
  },
};
