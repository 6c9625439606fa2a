// Decision latency: from a human's decision to the apply's engine process, per approval channel. Each
// channel is a driver: it sets up a runner whose requests it can answer, and answers one. The terminal
// channel answers through the CLI's own code path (`airlock approve RUN --yes` on an open control plane).
import { nowMs, percentile, round, type Benchmark, type BenchResult, type Figure, type Scope } from './bench-support.ts';
import { startLoop, terraformFor, type Loop } from './loop.ts';
import { ntfyDriver } from './decision-ntfy.ts';

const SAMPLES = 50;

export interface DecisionDriver {
  channel: string;
  /** Why this channel cannot be measured here, or null when it can. */
  unavailable(): Promise<string | null>;
  /** A runner (watch off) on this channel, and a way to decide one of its runs; `decide` resolves with the decision's time. */
  setup(scope: Scope): Promise<{ loop: Loop; decide(runId: string): Promise<number> }>;
}

const terminalDriver: DecisionDriver = {
  channel: 'terminal',
  unavailable: async () => null,
  async setup(scope) {
    const loop = await startLoop(scope, 'decision-terminal', {});
    const cli = await loop.cli();
    return {
      loop,
      async decide(runId) {
        const at = nowMs();
        await loop.approve(cli, runId);
        return at;
      },
    };
  },
};

export const DRIVERS: DecisionDriver[] = [terminalDriver, ntfyDriver];

async function measure(scope: Scope, driver: DecisionDriver) {
  const { loop, decide } = await driver.setup(scope);
  const latencies: number[] = [];
  const decideCalls: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const sha = await loop.commit(i + 1, terraformFor(`decide-${i}`));
    await loop.moveRef(i + 1, sha);
    await loop.probe.poll();
    const runId = loop.runId(sha);
    await loop.waitForState(runId, ['awaiting_approval'], 30_000);
    const decidedAt = await decide(runId);
    decideCalls.push(nowMs() - decidedAt);
    const apply = await loop.waitForInvocation(runId, 'apply', 30_000);
    latencies.push(apply.startedAtMs - decidedAt);
    // The next plan must see this apply's state, or its apply would be stale.
    await loop.waitForState(runId, ['applied'], 30_000);
  }
  return { latencies, decideCalls };
}

export const decision: Benchmark = {
  name: 'decision',
  title: 'Decision latency (decision → apply process spawned)',
  async run(scope): Promise<BenchResult> {
    const figures: Figure[] = [];
    const data: Record<string, unknown> = { samples: SAMPLES };
    const notes: string[] = [];
    for (const driver of DRIVERS) {
      const why = await driver.unavailable();
      if (why) {
        figures.push({ figure: `${driver.channel}: not measured`, value: null, unit: '', goal: 'p50 ≤ 100 ms', met: null });
        notes.push(`${driver.channel}: not measured: ${why}`);
        continue;
      }
      const { latencies, decideCalls } = await measure(scope, driver);
      const p50 = percentile(latencies, 50);
      figures.push(
        { figure: `${driver.channel}: p50 of ${SAMPLES}`, value: round(p50), unit: 'ms', goal: '≤ 100 ms', met: p50 <= 100 },
        { figure: `${driver.channel}: p95 of ${SAMPLES}`, value: round(percentile(latencies, 95)), unit: 'ms' },
        { figure: `${driver.channel}: p50 until the deciding call returned`, value: round(percentile(decideCalls, 50)), unit: 'ms' },
      );
      data[driver.channel] = { latenciesMs: latencies.map((v) => round(v)), decideCallMs: decideCalls.map((v) => round(v)) };
    }
    notes.push(
      'The apply’s spawn time is the double’s performance.timeOrigin; the runner runs in its own process, the deciding side in the benchmark’s. terminal: the decision is `decideRun` (what `airlock approve RUN --yes` runs) on an open CLI control plane; its call returns once the decision is stored and the apply queued. ntfy: the decision is the HTTP publish of the Approve action’s reply on the ntfy double; its call returns when ntfy accepted it.',
    );
    return { figures, data, notes };
  },
};
