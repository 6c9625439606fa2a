// The runner's own peak RSS while it plans a pull request whose `show -json` is a 1.1 GB plan (500k
// resource changes): the whole plan job in an `airlock start` process (checkout, guard, init, plan,
// show -json streamed to disk, the streaming summary, the plan view, the approval request), before
// (BASE_COMMIT through tsx) and after (the build). The engine is the zero-time one, except that
// `show -json` prints the generated file.
import { chmod, mkdir, statfs, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connectRedis } from '../../src/queue/redis-connection.ts';
import type { Run } from '../../src/run/run.ts';
import { RunStore } from '../../src/run/run-store.ts';
import { git } from '../git-fixtures.ts';
import { writeSyntheticPlan } from '../plan/generate-plan-json.ts';
import { makeRepos, round, sleep, waitUntil, writeBenchConfig, zeroEngine, type Benchmark, type BenchResult, type Figure } from './bench-support.ts';
import { BASE_COMMIT, prepareVariants, procMemory, startRunnerProcess } from './cli-variants.ts';

const CHANGES = 500_000;
const MIN_FREE_BYTES = 5e9;
const GOAL_MB = 160;
const REST_MS = 3_000;
const SEMI = 'build, --max-semi-space-size=4';

export const planMemory: Benchmark = {
  name: 'planmem',
  title: 'Runner peak RSS while planning a 1.1 GB plan (500k changes), before / build / build with a smaller young generation',
  async run(scope): Promise<BenchResult> {
    const root = await scope.tempDir('planmem');
    const fs = await statfs(os.tmpdir());
    const free = fs.bavail * fs.bsize;
    if (free < MIN_FREE_BYTES) {
      return {
        figures: [{ figure: 'skipped', value: null, unit: '', goal: `≤ ${GOAL_MB} MB`, met: null }],
        notes: [`skipped: ${round(free / 1e9)} GB free under ${os.tmpdir()}; the plan file and the job's copy of it need ~2.3 GB and this benchmark wants ${MIN_FREE_BYTES / 1e9} GB free`],
      };
    }
    const variants = await prepareVariants(scope, ['before', 'build']);
    const planFile = path.join(root, 'plan.json');
    const written = await writeSyntheticPlan(planFile, { changes: CHANGES, seed: 7 });
    const engine = path.join(root, 'bigplan-engine.sh');
    await writeFile(engine, `#!/bin/sh\n[ "$1" = show ] && exec cat "$BIGPLAN_FILE"\nexec '${await zeroEngine(root)}' "$@"\n`);
    await chmod(engine, 0o755);
    // One repo per variant (the run id derives from repo, workspace and sha), its PR ref set only once the runner is at rest.
    const build = variants.find((v) => v.name === 'build')!;
    const runsOf = [...variants.map((v) => ({ label: v.name as string, v, flags: [] as string[] })), { label: SEMI, v: build, flags: ['--max-semi-space-size=4'] }];
    const { repos, heads } = await makeRepos(root, { copies: runsOf.length, prs: 1, files: { 'main.tf': 'resource "terraform_data" "a" {\n  input = "zero"\n}\n' } });
    const head = heads[0]!;

    const rows: Array<{ variant: string; atRestRssMB: number; atRestPeakMB: number; peakMB: number; afterRssMB: number; planMs: number; readyMs: number }> = [];
    const figures: Figure[] = [];
    for (const [i, { label, v, flags }] of runsOf.entries()) {
      const repo = repos[i]!;
      const gitDir = repo.url.replace('file://', '');
      await git(['update-ref', '-d', head.ref], { env: { GIT_DIR: gitDir } });
      const prefix = scope.prefix(`planmem-${i}`);
      // No sandbox: the engine reads the generated file from this benchmark's temp dir. The runner's memory does not depend on it.
      const loaded = await writeBenchConfig({ runnerId: `planmem-${i}`, dataDir: path.join(root, `runner-${i}`, 'data'), prefix, repos: [{ name: repo.name, url: repo.url }], engine: { binary: engine, env: { BIGPLAN_FILE: planFile } }, sandbox: false });
      await mkdir(loaded.config.runner.dataDir, { recursive: true, mode: 0o700 });
      const redis = connectRedis(loaded.config.redis.url);
      scope.defer(async () => redis.disconnect());
      const runs = new RunStore(redis, prefix);
      const runner = await startRunnerProcess(scope, v, loaded.file, flags);
      try {
        await sleep(REST_MS);
        const atRest = await procMemory(runner.child.pid!);
        const pushed = performance.now();
        await git(['update-ref', head.ref, head.sha], { env: { GIT_DIR: gitDir } });
        const run = await waitUntil<Run>(`the ${label} runner to plan the big plan`, async () => (await runs.list(5)).find((r) => r.state !== 'planning') ?? null, 600_000, 250);
        const planMs = performance.now() - pushed;
        const after = await procMemory(runner.child.pid!);
        if (run.state !== 'awaiting_approval') throw new Error(`the ${label} runner ended the run ${run.state}: ${JSON.stringify(run.error ?? run.refusal ?? null)}\n${runner.output().slice(-2000)}`);
        const counts = run.plan?.summary.counts as Record<string, number> | undefined;
        const countsMatch = Object.entries(written.counts).every(([k, n]) => k === 'noop' || counts?.[k] === n);
        if (!countsMatch) throw new Error(`the ${label} runner's summary counts ${JSON.stringify(counts)}, the generator wrote ${JSON.stringify(written.counts)}`);
        rows.push({ variant: label, atRestRssMB: round(atRest.rssMB), atRestPeakMB: round(atRest.hwmMB), peakMB: round(after.hwmMB), afterRssMB: round(after.rssMB), planMs: round(planMs), readyMs: round(runner.readyMs) });
      } finally {
        await runner.stop();
      }
    }
    const row = (name: string) => rows.find((r) => r.variant === name);
    const built = row('build')!;
    const before = row('before');
    const semi = row(SEMI);
    figures.push(
      { figure: `runner peak RSS, push → plan summarised and approval asked (${round(written.bytes / 1e6)} MB plan JSON), build`, value: built.peakMB, unit: 'MB', goal: `≤ ${GOAL_MB} MB`, met: built.peakMB <= GOAL_MB },
      { figure: `the same, before (${BASE_COMMIT} through tsx)`, value: before?.peakMB ?? null, unit: 'MB' },
      { figure: 'the same, build with node --max-semi-space-size=4', value: semi?.peakMB ?? null, unit: 'MB' },
      { figure: 'runner RSS at rest before the push, build / before / build semi-space 4', value: built.atRestRssMB, unit: `MB / ${before?.atRestRssMB ?? 'n/a'} MB / ${semi?.atRestRssMB ?? 'n/a'} MB` },
      { figure: 'push → awaiting_approval, build / before / build semi-space 4', value: built.planMs, unit: `ms / ${before?.planMs ?? 'n/a'} ms / ${semi?.planMs ?? 'n/a'} ms` },
    );
    return {
      figures,
      data: { changes: CHANGES, bytes: written.bytes, rows },
      notes: [
        `Each variant is an \`airlock start\` process with its own prefix, data dir and repo; its PR ref is set after ${REST_MS / 1000} s at rest, and peak RSS is the process's VmHWM once the run is awaiting approval, i.e. the most it held at any moment: the checkout, the guard (whose HCL parser runs in a process of its own: not counted here), \`show -json\` streamed to the job dir, the streaming summary and the plan view. Engine: the zero-time engine, whose \`show -json\` prints the generated file (sandbox off, so it can read it). The benchmark checks that the run's counts equal the generator's.`,
      ],
    };
  },
};
