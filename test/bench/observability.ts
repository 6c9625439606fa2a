// What metrics and traces cost a job, measured inside the overhead benchmark: four runner processes that
// differ only in `metrics.listen` and `traces.otlp` (neither, metrics, traces, both) are fed one plan and
// its apply each in turn, round after round, so the machine's noise hits all four alike. The engine is the
// zero-time one and the sandbox is off, so a job's time is Airlock's own work and the ratios compare that
// work with and without observability. Two measures: each job's wall time (BullMQ), and each runner
// process's own CPU time over all measured rounds (its children, git and the engine, apart), which a busy
// machine disturbs far less than wall time. Traces go to the in-process OTLP receiver (test/doubles), which
// decodes every request it gets; its count of runs' spans is checked, so a variant that sent nothing fails.
import { pino } from 'pino';
import type { ControlPlane } from '../../src/runner/control-plane.ts';
import { startOtlpReceiver } from '../doubles/otlp-receiver.ts';
import { median, round, sleep, zeroEngine, type Figure, type Scope } from './bench-support.ts';
import type { ProbeStats } from './probe.ts';
import { startLoop, terraformFor, type Loop } from './loop.ts';
import { measureInstrumentation } from './instrumentation.ts';
import { openControlPlane } from '../../src/runner/control-plane.ts';

const ROUNDS = 8;
const WARMUP = 1;
/** The default `traces.exportDelay`. */
const EXPORT_DELAY_MS = 5_000;

const VARIANTS = [
  { name: 'neither', metrics: false, traces: false },
  { name: 'metrics', metrics: true, traces: false },
  { name: 'traces', metrics: false, traces: true },
  { name: 'both', metrics: true, traces: true },
] as const;
type VariantName = (typeof VARIANTS)[number]['name'];

/** One round's job times (BullMQ processed → finished) of one variant. */
interface Sample {
  planMs: number;
  applyMs: number;
}

async function sample(loop: Loop, cli: ControlPlane, pr: number, label: string): Promise<Sample> {
  const sha = await loop.commit(pr, terraformFor(label));
  await loop.moveRef(pr, sha);
  await loop.probe.poll();
  const runId = loop.runId(sha);
  await loop.waitForState(runId, ['awaiting_approval'], 60_000);
  const plan = await loop.jobTimes('plan', runId);
  await loop.approve(cli, runId);
  await loop.waitForState(runId, ['applied'], 60_000);
  const apply = await loop.jobTimes('apply', runId);
  return { planMs: plan.finishedMs - plan.processedMs, applyMs: apply.finishedMs - apply.processedMs };
}

/** Per round: `on` over `off` (ratio) and `on` − `off` (ms); the figure is the median over the rounds. */
function compare(kind: 'plan' | 'apply', samples: Record<VariantName, Sample[]>, on: VariantName): Figure[] {
  const key = kind === 'plan' ? 'planMs' : 'applyMs';
  const off = samples.neither.map((s) => s[key]);
  const with_ = samples[on].map((s) => s[key]);
  const ratio = median(with_.map((v, i) => v / off[i]!));
  const added = median(with_.map((v, i) => v - off[i]!));
  return [
    { figure: `${kind} job with ${on} / with neither (Airlock's own time, median of ${off.length} rounds)`, value: round(ratio, 3), unit: '×' },
    { figure: `${kind} job: ms added by ${on}`, value: round(added, 1), unit: 'ms' },
  ];
}

export async function measureObservability(scope: Scope): Promise<{ figures: Figure[]; data: Record<string, unknown>; notes: string[] }> {
  const receiver = await startOtlpReceiver();
  scope.defer(() => receiver.close());
  const engine = await zeroEngine(await scope.tempDir('observability-engine'));
  const loops = new Map<VariantName, { loop: Loop; cli: ControlPlane }>();
  for (const v of VARIANTS) {
    const loop = await startLoop(scope, `overhead-obs-${v.name}`, {}, {
      engineBinary: engine,
      sandbox: false,
      ...(v.metrics ? { metrics: { listen: '127.0.0.1:0' } } : {}),
      ...(v.traces ? { traces: { otlp: { endpoint: receiver.url } } } : {}),
    });
    // The decision is taken the way `airlock approve` takes it; with traces on, that process traces too.
    const cli = await openControlPlane(loop.loaded, { writer: 'cli', log: pino({ level: 'silent' }) });
    scope.defer(() => cli.close());
    loops.set(v.name, { loop, cli });
  }
  const samples = { neither: [], metrics: [], traces: [], both: [] } as Record<VariantName, Sample[]>;
  const cpuFrom = new Map<VariantName, ProbeStats>();
  for (let round_ = 0; round_ < WARMUP + ROUNDS; round_++) {
    if (round_ === WARMUP) for (const v of VARIANTS) cpuFrom.set(v.name, await loops.get(v.name)!.loop.probe.stats());
    // Each round starts with a different variant, so none is always first after a pause.
    for (let k = 0; k < VARIANTS.length; k++) {
      const v = VARIANTS[(round_ + k) % VARIANTS.length]!;
      const { loop, cli } = loops.get(v.name)!;
      const s = await sample(loop, cli, round_ + 1, `obs-${v.name}-${round_}`);
      if (round_ >= WARMUP) samples[v.name].push(s);
    }
  }
  // One batch delay more, so the last spans are sent (and their CPU counted) before the runners are read.
  await sleep(EXPORT_DELAY_MS + 1_000);
  const cpuMsPerRun = {} as Record<VariantName, number>;
  for (const v of VARIANTS) {
    const [a, b] = [cpuFrom.get(v.name)!, await loops.get(v.name)!.loop.probe.stats()];
    cpuMsPerRun[v.name] = (b.userUs - a.userUs + (b.systemUs - a.systemUs)) / 1000 / ROUNDS;
  }
  // Every traced run's own span must have arrived once its runner stopped (stopping sends what is pending).
  for (const v of VARIANTS) await loops.get(v.name)!.loop.probe.stop();
  const runSpans = receiver.spans.filter((s) => s.name === 'airlock run').length;
  const traced = VARIANTS.filter((v) => v.traces).length * (WARMUP + ROUNDS);
  if (runSpans !== traced) throw new Error(`the OTLP receiver got ${runSpans} run spans, expected ${traced} (one per traced run)`);

  // The hooks alone, per run, in this process (instrumentation.ts): what the noise above cannot resolve.
  const hooks = await measureInstrumentation(scope, receiver);
  const base = (key: keyof Sample) => round(median(samples.neither.map((s) => s[key])), 1);
  return {
    figures: [
      { figure: 'plan job, Airlock\'s own time (zero-time engine, no sandbox), metrics and traces off', value: base('planMs'), unit: 'ms' },
      ...compare('plan', samples, 'metrics'),
      ...compare('plan', samples, 'traces'),
      ...compare('plan', samples, 'both'),
      { figure: 'apply job, Airlock\'s own time (zero-time engine, no sandbox), metrics and traces off', value: base('applyMs'), unit: 'ms' },
      ...compare('apply', samples, 'metrics'),
      ...compare('apply', samples, 'traces'),
      ...compare('apply', samples, 'both'),
      { figure: 'runner CPU per run (plan + apply, the process itself), metrics and traces off', value: round(cpuMsPerRun.neither, 1), unit: 'ms' },
      ...(['metrics', 'traces', 'both'] as const).flatMap((on): Figure[] => [
        { figure: `runner CPU per run with ${on} / with neither`, value: round(cpuMsPerRun[on] / cpuMsPerRun.neither, 3), unit: '×' },
        { figure: `runner CPU per run: ms added by ${on}`, value: round(cpuMsPerRun[on] - cpuMsPerRun.neither, 1), unit: 'ms' },
      ]),
      ...hooks.figures,
      { figure: 'traces\' hooks per run / runner CPU per run with neither', value: round((hooks.data['tracesCpuMs'] as number) / cpuMsPerRun.neither, 4), unit: '×' },
      { figure: 'metrics\' hooks per run / runner CPU per run with neither', value: round((hooks.data['metricsCpuMs'] as number) / cpuMsPerRun.neither, 4), unit: '×' },
    ],
    data: { rounds: ROUNDS, warmupRoundsDiscarded: WARMUP, samples, cpuMsPerRun, hooks: hooks.data, spansReceived: receiver.spans.length, exportRequests: receiver.raw.length },
    notes: [
      'Observability: four runner processes (neither, metrics, traces, both) on the zero-time engine with the sandbox off, one plan and its apply each per round, the variants taken in turn (a different one first each round); job time is BullMQ\'s processed → finished of each job; runner CPU is process.cpuUsage() of each runner process from the first measured round to a batch delay after the last, divided by the rounds (idle work such as BullMQ\'s timers is in every variant alike). Metrics on means counted (no scrape during the run); traces on means every span of every run exported to an in-process OTLP/HTTP receiver with the default 5 s batch delay.',
    ],
  };
}
