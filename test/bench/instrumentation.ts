// What metrics and traces cost one run, measured apart from everything else a job does: the very hooks a
// runner calls for a run that is planned, approved and applied (eight step spans, two job spans, four moves,
// the run's own span and the export over OTLP/HTTP to the in-process receiver, which decodes it in this same
// process; or eight step timings, four moves and a dozen audit records counted), against the same loop with
// the hooks off, in alternating batches. CPU time (process.cpuUsage) is the figure: a busy machine stretches wall time
// but hardly the CPU a piece of code needs.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { observeMove, observeRecord } from '../../src/runner/metrics-wiring.ts';
import { connectRedis } from '../../src/queue/queues.ts';
import { RunStore } from '../../src/run/run-store.ts';
import type { Run, RunState } from '../../src/run/run.ts';
import type { RunMoved } from '../../src/run/transitions.ts';
import { openTraces } from '../../src/trace/open.ts';
import { newTraceparent, untraced, type RunTracing } from '../../src/trace/trace.ts';
import { REDIS_URL } from '../support/harness.ts';
import type { OtlpReceiver } from '../doubles/otlp-receiver.ts';
import { median, round, type Figure, type Scope } from './bench-support.ts';

const BATCHES = 8;
const RUNS_PER_BATCH = 40;
const STEPS = ['checkout', 'guard', 'init', 'plan', 'show', 'summarize', 'tier', 'request'];
const RECORDS = ['plan.started', 'run.attributed', 'run.fingerprinted', 'plan.finished', 'approval.requested', 'approval.granted', 'apply.started', 'credentials.issued', 'credentials.revoked', 'apply.finished', 'approval.outcome', 'run.reported'];
const silent = pino({ level: 'silent' });

const moved = (run: Run, from: RunState, to: RunState, patch: Partial<Run> = {}): RunMoved => ({ run: { ...run, ...patch, state: to }, from, to, type: `run.${to}`, actor: { kind: 'runner', id: 'airlock' } });

/** One run's worth of trace hooks, as the runner calls them. The moves carry the stored run, as the transitions' do. */
async function traceOneRun(tracing: RunTracing, runs: RunStore, run: Run): Promise<void> {
  await tracing.job('plan', run, async () => {
    for (const step of STEPS) tracing.step(run.id, step)?.(run);
  });
  const stored = (await runs.find(run.id))!; // both sides read it back: only the hooks differ
  const now = new Date().toISOString();
  const decision = { decision: 'approve' as const, by: { kind: 'human' as const, id: 'os:alice' }, channel: 'terminal', breakGlass: false, at: now, planSha256: 'ab'.repeat(32) };
  tracing.onMove(moved(stored, 'planning', 'awaiting_approval', { approval: { requestedAt: now, expiresAt: now, tier: 'approve', channel: 'terminal' } }));
  tracing.onMove(moved(stored, 'awaiting_approval', 'approved', { decision }));
  await tracing.job('apply', stored, async () => {
    tracing.onMove(moved(stored, 'approved', 'applying', { decision }));
    tracing.onMove(moved(stored, 'applying', 'applied', { decision, apply: { startedAt: now, finishedAt: now, fence: 1, runnerId: 'bench', host: 'h', pid: 1 } }));
    await tracing.around(run.id, 'record', async () => undefined);
  });
}

/** One run's worth of metric hooks, as the runner calls them. */
function countOneRun(m: ReturnType<typeof createMetrics>, run: Run): void {
  for (const step of STEPS) m.planStep.observe({ step: m.labels.step.value(step) }, 0.01);
  for (const type of RECORDS) observeRecord(m, { type, actor: { kind: 'runner' }, detail: {} }, 0.001, true);
  m.planDuration.observe({ outcome: 'awaiting_approval' }, 1);
  const now = new Date().toISOString();
  observeMove(m, moved(run, 'planning', 'awaiting_approval'));
  observeMove(m, moved(run, 'awaiting_approval', 'approved', { approval: { requestedAt: now, expiresAt: now, tier: 'approve', channel: 'terminal' } }));
  observeMove(m, moved(run, 'approved', 'applying'));
  observeMove(m, moved(run, 'applying', 'applied', { apply: { startedAt: now, finishedAt: now, fence: 1, runnerId: 'bench', host: 'h', pid: 1 } }));
}

async function cpuOf(work: () => Promise<void>): Promise<{ cpuMs: number; wallMs: number }> {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await work();
  const d = process.cpuUsage(cpu);
  return { cpuMs: (d.user + d.system) / 1000, wallMs: performance.now() - t0 };
}

export async function measureInstrumentation(scope: Scope, receiver: OtlpReceiver): Promise<{ figures: Figure[]; data: Record<string, unknown> }> {
  const prefix = scope.prefix('instrumentation');
  const redis = connectRedis(REDIS_URL);
  scope.defer(async () => redis.disconnect());
  const runs = new RunStore(redis, prefix);
  // With traces on, runs are born with their trace context, as the runner's store makes them.
  const tracedRuns = new RunStore(redis, prefix, undefined, undefined, newTraceparent);
  const newRuns = async (traced: boolean): Promise<Run[]> => {
    const out: Run[] = [];
    for (let i = 0; i < RUNS_PER_BATCH; i++) out.push((await (traced ? tracedRuns : runs).create({ repo: 'infra', ref: `refs/pull/${i}/head`, pr: i, sha: randomBytes(20).toString('hex'), workspace: 'default', seenAt: Date.now() })).run);
    return out;
  };
  const traces = { otlp: { endpoint: receiver.url, headers: {}, timeout: 10_000, allowPlainHttp: false }, exportDelay: 5_000, serviceName: 'airlock' };
  const openTracing = async () => (await openTraces(traces, { runs, log: silent, readSecret: async () => '', scrub: (s) => s, instanceId: 'bench' }))!;
  await openTracing().then((t) => t.shutdown()); // the SDK's modules loaded before anything is timed

  const perRun = { untraced: [] as number[], traced: [] as number[], uncounted: [] as number[], counted: [] as number[] };
  const wallPerRun = { untraced: [] as number[], traced: [] as number[] };
  for (let b = 0; b < BATCHES; b++) {
    // Traced: a tracer for the batch, shut down (its spans sent) inside the timing, so the export is counted.
    for (const traced of b % 2 === 0 ? [true, false] : [false, true]) {
      const batch = await newRuns(traced);
      const { cpuMs, wallMs } = await cpuOf(async () => {
        const tracing = traced ? await openTracing() : untraced;
        for (const run of batch) await traceOneRun(tracing, runs, run);
        await tracing.shutdown();
      });
      perRun[traced ? 'traced' : 'untraced'].push(cpuMs / RUNS_PER_BATCH);
      wallPerRun[traced ? 'traced' : 'untraced'].push(wallMs / RUNS_PER_BATCH);
    }
    for (const counted of b % 2 === 0 ? [true, false] : [false, true]) {
      const m = createMetrics({ version: 'bench' }, { defaultMetrics: false });
      const batch = await newRuns(false);
      const { cpuMs } = await cpuOf(async () => {
        for (const run of batch) if (counted) countOneRun(m, run);
      });
      perRun[counted ? 'counted' : 'uncounted'].push(cpuMs / RUNS_PER_BATCH);
    }
  }
  const tracesCpu = median(perRun.traced) - median(perRun.untraced);
  const metricsCpu = median(perRun.counted) - median(perRun.uncounted);
  return {
    figures: [
      { figure: `traces: CPU per run of their hooks and export (median of ${BATCHES} batches of ${RUNS_PER_BATCH} runs)`, value: round(tracesCpu, 3), unit: 'ms' },
      { figure: 'traces: wall time per run of their hooks and export', value: round(median(wallPerRun.traced) - median(wallPerRun.untraced), 3), unit: 'ms' },
      { figure: `metrics: CPU per run of their hooks (median of ${BATCHES} batches of ${RUNS_PER_BATCH} runs)`, value: round(metricsCpu, 3), unit: 'ms' },
    ],
    data: { batches: BATCHES, runsPerBatch: RUNS_PER_BATCH, tracesCpuMs: tracesCpu, metricsCpuMs: metricsCpu, cpuMsPerRun: perRun, wallMsPerRun: wallPerRun },
  };
}
