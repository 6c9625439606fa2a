// Overhead: a plan job's wall time over the engine's own wall time for the same commands on the same tree,
// with the engine double held at a fixed 3 s; the same for an apply. Airlock and direct runs alternate, so
// a noisy machine slows both sides of each pair.
import { spawn } from 'node:child_process';
import { cp, mkdir, open, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildEngineArgs, buildEngineEnv, cliConfigPath, type EngineSpec, type EngineStep } from '../../src/engine/engine.ts';
import { engineSpecFor } from '../../src/engine/spec.ts';
import { median, readDoubleLog, round, type Benchmark, type BenchResult, type Figure, type Scope } from './bench-support.ts';
import { startLoop, terraformFor, type Loop } from './loop.ts';
import { measureObservability } from './observability.ts';

const DELAY_MS = 3000;
const PAIRS = 3;
const WARMUP = 1;

/** The same engine command line the runner builds, run straight from here; resolves with its wall time. */
async function runDirect(spec: EngineSpec, dir: DirectDir, step: EngineStep, planFile?: string, stdoutFile?: string): Promise<number> {
  const args = buildEngineArgs(step, spec, planFile);
  const env = buildEngineEnv(spec, { homeDir: dir.home });
  const out = stdoutFile ? await open(stdoutFile, 'w', 0o600) : null;
  const started = performance.now();
  const child = spawn(spec.binary, args, { cwd: dir.cwd, env, stdio: ['ignore', out ? out.fd : 'pipe', 'pipe'] });
  child.stdout?.resume();
  child.stderr?.resume();
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const ms = performance.now() - started;
  await out?.close();
  const expected = step === 'plan' ? [0, 2] : [0];
  if (!expected.includes(code ?? -1)) throw new Error(`direct \`${step}\` exited ${code} in ${dir.cwd}`);
  return ms;
}

interface DirectDir {
  cwd: string;
  home: string;
  planFile: string;
  planJson: string;
}

/** A copy of the job's exported tree, its backend pointed at state of its own, for the direct runs. */
async function copyTree(loop: Loop, runId: string, root: string): Promise<DirectDir> {
  const dir = path.join(root, `direct-${runId}`);
  const cwd = path.join(dir, 'tree');
  await cp(path.join(loop.loaded.config.runner.dataDir, 'jobs', runId, 'tree'), cwd, { recursive: true });
  await rm(path.join(cwd, '.terraform'), { recursive: true, force: true });
  const body = { terraform: { backend: { local: { path: path.join(root, 'direct-state', 'terraform.tfstate') } } } };
  await mkdir(path.join(root, 'direct-state'), { recursive: true });
  await writeFile(path.join(cwd, 'airlock_backend_override.tf.json'), `${JSON.stringify(body, null, 2)}\n`);
  const home = path.join(dir, 'home');
  await mkdir(home, { recursive: true, mode: 0o700 });
  await writeFile(cliConfigPath(home), '', { mode: 0o600 });
  return { cwd, home, planFile: path.join(dir, 'plan.tfplan'), planJson: path.join(dir, 'plan.json') };
}

interface Pair {
  airlockMs: number;
  engineMs: number;
  queueWaitMs: number;
  beforeFirstSpawnMs: number;
  /** Airlock's own time after each engine step: next spawn (or job end) − this spawn − the step's direct wall time. */
  afterStepMs?: Record<string, number>;
}

/** Where the job's own time went, step by step, from the double's spawn times and the direct runs' durations. */
function afterSteps(invocations: Array<{ argv: string[]; startedAtMs: number }>, direct: Record<string, number>, finishedMs: number): Record<string, number> {
  const out: Record<string, number> = {};
  invocations.forEach((inv, i) => {
    const step = inv.argv[0]!;
    const next = invocations[i + 1]?.startedAtMs ?? finishedMs;
    out[step] = next - inv.startedAtMs - (direct[step] ?? 0);
  });
  return out;
}

/** How the plan job's engine steps are walled: no sandbox, one sandbox per command, or one per job (a session). */
type Wall = 'none' | 'per-command' | 'session';

async function measurePlans(scope: Scope, wall: Wall): Promise<Pair[]> {
  const loop = await startLoop(scope, `overhead-plan-${wall}`, { AIRLOCK_DOUBLE_DELAY_MS: String(DELAY_MS), AIRLOCK_DOUBLE_DELAY_COMMANDS: 'plan' }, { sandbox: wall !== 'none', sessions: wall === 'session' });
  const spec = await engineSpecFor(loop.loaded.config);
  const scratch = await scope.tempDir('overhead-direct');
  const pairs: Pair[] = [];
  for (let i = 0; i < WARMUP + PAIRS; i++) {
    const sha = await loop.commit(i + 1, terraformFor(`plan-${i}`));
    await loop.moveRef(i + 1, sha);
    await loop.probe.poll();
    const runId = loop.runId(sha);
    await loop.waitForState(runId, ['awaiting_approval'], 60_000);
    const job = await loop.jobTimes('plan', runId);
    const init = await loop.waitForInvocation(runId, 'init');

    const dir = await copyTree(loop, runId, scratch);
    const direct: Record<string, number> = {};
    direct['init'] = await runDirect(spec, dir, 'init');
    direct['plan'] = await runDirect(spec, dir, 'plan', dir.planFile);
    // No `version`: a runner asks once per process (the warm-up pair), not per plan.
    direct['show'] = await runDirect(spec, dir, 'show', dir.planFile, dir.planJson);
    const engineMs = Object.values(direct).reduce((a, b) => a + b, 0);
    if (i >= WARMUP) {
      const steps = (await readDoubleLog(loop.invocationLog)).filter((inv) => inv.cwd.includes(`${path.sep}jobs${path.sep}${runId}${path.sep}`));
      pairs.push({
        airlockMs: job.finishedMs - job.enqueuedMs,
        engineMs,
        queueWaitMs: job.processedMs - job.enqueuedMs,
        beforeFirstSpawnMs: init.startedAtMs - job.processedMs,
        afterStepMs: afterSteps(steps.sort((a, b) => a.startedAtMs - b.startedAtMs), direct, job.finishedMs),
      });
    }
  }
  return pairs;
}

async function measureApplies(scope: Scope, sandbox: boolean): Promise<Pair[]> {
  const loop = await startLoop(scope, `overhead-apply-${sandbox ? 'sandbox' : 'none'}`, { AIRLOCK_DOUBLE_DELAY_MS: String(DELAY_MS), AIRLOCK_DOUBLE_DELAY_COMMANDS: 'apply' }, { sandbox });
  const spec = await engineSpecFor(loop.loaded.config);
  const scratch = await scope.tempDir('overhead-direct');
  const cli = await loop.cli();
  const pairs: Pair[] = [];
  for (let i = 0; i < WARMUP + PAIRS; i++) {
    const sha = await loop.commit(i + 1, terraformFor(`apply-${i}`));
    await loop.moveRef(i + 1, sha);
    await loop.probe.poll();
    const runId = loop.runId(sha);
    await loop.waitForState(runId, ['awaiting_approval'], 60_000);
    const dir = await copyTree(loop, runId, scratch);

    await loop.approve(cli, runId);
    await loop.waitForState(runId, ['applied'], 60_000);
    const job = await loop.jobTimes('apply', runId);
    const apply = await loop.waitForInvocation(runId, 'apply');

    await runDirect(spec, dir, 'init');
    await runDirect(spec, dir, 'plan', dir.planFile);
    const engineMs = await runDirect(spec, dir, 'apply', dir.planFile);
    if (i >= WARMUP) {
      pairs.push({ airlockMs: job.finishedMs - job.enqueuedMs, engineMs, queueWaitMs: job.processedMs - job.enqueuedMs, beforeFirstSpawnMs: apply.startedAtMs - job.processedMs });
    }
  }
  return pairs;
}

function summarise(kind: 'plan' | 'apply', pairs: Pair[], label: string): Figure[] {
  const ratios = pairs.map((p) => p.airlockMs / p.engineMs);
  const added = pairs.map((p) => p.airlockMs - p.engineMs);
  const ratio = median(ratios);
  const addedMs = median(added);
  const goal = kind === 'plan' ? 1.02 : 1.03;
  return [
    { figure: `${kind} job / engine wall time, ${label} (median of ${pairs.length})`, value: round(ratio, 3), unit: '×', goal: `≤ ${goal}`, met: ratio <= goal },
    { figure: `${kind}: ms added by Airlock, ${label}`, value: round(addedMs), unit: 'ms', ...(kind === 'apply' ? { goal: '≤ 100 ms', met: addedMs <= 100 } : {}) },
    { figure: `${kind}: engine alone (same commands, same tree, no sandbox), ${label} run`, value: round(median(pairs.map((p) => p.engineMs))), unit: 'ms' },
  ];
}

/** What the sandbox adds to a job: the difference of the medians of Airlock's added time with and without it. */
function sandboxCost(kind: 'plan' | 'apply', on: Pair[], off: Pair[], steps: number, label = ''): Figure[] {
  const added = (pairs: Pair[]) => median(pairs.map((p) => p.airlockMs - p.engineMs));
  const cost = added(on) - added(off);
  return [
    { figure: `${kind}: sandbox cost per job${label} (${steps} engine command${steps > 1 ? 's' : ''})`, value: round(cost), unit: 'ms' },
    { figure: `${kind}: sandbox cost per engine command${label}`, value: round(cost / steps, 1), unit: 'ms' },
  ];
}

export const overhead: Benchmark = {
  name: 'overhead',
  title: 'Overhead over the engine (double at a fixed 3 s)',
  async run(scope): Promise<BenchResult> {
    // Sandbox off, one per command (before sessions) and one per job, in one run: the machine's noise hits all.
    const plansOff = await measurePlans(scope, 'none');
    const plansPerCommand = await measurePlans(scope, 'per-command');
    const plans = await measurePlans(scope, 'session');
    const appliesOff = await measureApplies(scope, false);
    const applies = await measureApplies(scope, true);
    // Metrics and traces off and on, four runners taken in turn (observability.ts).
    const observability = await measureObservability(scope);
    const round1 = (pairs: Pair[]) =>
      pairs.map((p) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, typeof v === 'number' ? round(v) : Object.fromEntries(Object.entries(v as Record<string, number>).map(([s, ms]) => [s, round(ms)]))])));
    return {
      figures: [
        ...summarise('plan', plans, 'sandbox on (one per job)'),
        ...summarise('plan', plansPerCommand, 'sandbox on, one per command (before)'),
        ...summarise('plan', plansOff, 'sandbox off'),
        ...sandboxCost('plan', plans, plansOff, 3),
        ...sandboxCost('plan', plansPerCommand, plansOff, 3, ', one sandbox per command'),
        ...summarise('apply', applies, 'sandbox on'),
        ...summarise('apply', appliesOff, 'sandbox off'),
        ...sandboxCost('apply', applies, appliesOff, 1),
        ...observability.figures,
      ],
      data: { delayMs: DELAY_MS, warmupPairsDiscarded: WARMUP, plans: round1(plans), plansPerCommandSandbox: round1(plansPerCommand), plansWithoutSandbox: round1(plansOff), applies: round1(applies), appliesWithoutSandbox: round1(appliesOff), observability: observability.data },
      notes: [
        'Airlock time is BullMQ’s own enqueued→finished timestamps of the job; the engine time is the same command lines (init, plan, show -json; or apply) run straight from the benchmark on a copy of the job’s exported tree. `version` is not counted: a runner runs it once per process (in the discarded warm-up pair).',
        'Sandbox on (one per job): a plan job’s init, plan and show run in one bwrap with one slirp4netns (engine sessions, the default); one per command: engine.sandbox.sessions false, as before sessions; off: engine.sandbox none. The direct engine runs are never sandboxed, so the on-ratios include the whole cost of the wall.',
        'queueWaitMs = enqueued→picked up; beforeFirstSpawnMs = picked up→first engine process started (checkout, guard, lock, audit); afterStepMs[step] = Airlock’s own time between that engine step and the next one (or the job’s end), i.e. the gap minus the step’s direct wall time.',
        ...observability.notes,
      ],
    };
  },
};
