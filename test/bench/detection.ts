// Detection latency: from a ref moved on the remote to the plan job's first engine process, with the
// runner's own watcher polling every second. Each push lands at a random point of the poll cycle.
import { percentile, round, sleep, type Benchmark, type BenchResult } from './bench-support.ts';
import { startLoop, terraformFor } from './loop.ts';

const SAMPLES = 30;
const INTERVAL_MS = 1000;

export const detection: Benchmark = {
  name: 'detection',
  title: 'Detection latency (ref moved → first engine process, 1 s poll)',
  async run(scope): Promise<BenchResult> {
    const loop = await startLoop(scope, 'detection', {}, { watch: true, pollInterval: `${INTERVAL_MS}ms` });
    const latencies: number[] = [];
    const toSighting: number[] = [];
    const sightingToSpawn: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const sha = await loop.commit(i + 1, terraformFor(`detect-${i}`));
      await sleep(Math.random() * INTERVAL_MS);
      const movedAt = await loop.moveRef(i + 1, sha);
      const runId = loop.runId(sha);
      const init = await loop.waitForInvocation(runId, 'init', 30_000);
      latencies.push(init.startedAtMs - movedAt);
      const run = await loop.waitForState(runId, ['awaiting_approval'], 30_000);
      toSighting.push(Date.parse(run.createdAt) - movedAt);
      sightingToSpawn.push(init.startedAtMs - Date.parse(run.createdAt));
    }
    const p95 = percentile(latencies, 95);
    const goal = INTERVAL_MS + 250;
    return {
      figures: [
        { figure: `p50 of ${SAMPLES}`, value: round(percentile(latencies, 50)), unit: 'ms' },
        { figure: `p95 of ${SAMPLES}`, value: round(p95), unit: 'ms', goal: `≤ ${goal} ms`, met: p95 <= goal },
        { figure: 'p50 sighting → first engine process', value: round(percentile(sightingToSpawn, 50)), unit: 'ms' },
      ],
      data: {
        intervalMs: INTERVAL_MS,
        latenciesMs: latencies.map((v) => round(v)),
        refMovedToSightingMs: toSighting.map((v) => round(v)),
        sightingToSpawnMs: sightingToSpawn.map((v) => round(v)),
      },
      notes: [
        'Spawn time is the double’s performance.timeOrigin (process start, same clock as Date); “ref moved” is when `git update-ref` on the bare remote returned. Sighting time is the run’s createdAt (ms resolution).',
      ],
    };
  },
};
