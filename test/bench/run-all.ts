// `npm run bench [-- NAME…]`: run the benchmarks (all, or the named ones) one after another, print the
// table, merge the figures into test/bench/results.json and rewrite the results block of BENCHMARKS.md.
// Figures never fail the run; a benchmark that crashes, or a broken invariant (a double plan), does.
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BENCH_DIR, machineInfo, Scope, type Benchmark } from './bench-support.ts';
import { bigPlans } from './big-plans.ts';
import { decision } from './decision.ts';
import { detection } from './detection.ts';
import { overhead } from './overhead.ts';
import { passkeyVerify } from './passkey-verify.ts';
import { planMemory } from './plan-memory.ts';
import { mirrorInit } from './mirror-init.ts';
import { renderPlainTable, tableRows, updateMarkdown, type ResultsFile } from './report.ts';
import { startup } from './startup.ts';
import { throughput } from './throughput.ts';
import { watcherCost } from './watcher-cost.ts';

const BENCHMARKS: Benchmark[] = [overhead, mirrorInit, detection, decision, throughput, watcherCost, bigPlans, passkeyVerify, startup, planMemory];
const RESULTS = path.join(BENCH_DIR, 'results.json');
const MARKDOWN = path.join(BENCH_DIR, 'BENCHMARKS.md');

const names = process.argv.slice(2);
const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}\n`);
  process.exit(2);
}
const selected = names.length ? BENCHMARKS.filter((b) => names.includes(b.name)) : BENCHMARKS;

let current: Scope | null = null;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: cleaning up…\n`);
    void (current?.close() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

const previous = JSON.parse(await readFile(RESULTS, 'utf8').catch(() => '{}')) as Partial<ResultsFile>;
const results: ResultsFile = { machine: machineInfo(), updatedAt: new Date().toISOString(), benchmarks: { ...previous.benchmarks } };
let failed = false;
const started = performance.now();
for (const bench of selected) {
  process.stdout.write(`▶ ${bench.name}: ${bench.title}\n`);
  const scope = new Scope(bench.name);
  current = scope;
  const t0 = performance.now();
  const ranAt = new Date().toISOString();
  // Other work on the machine slows both sides of a comparison, but not absolute figures: record it.
  const loadAvg1 = Math.round(os.loadavg()[0]! * 100) / 100;
  if (loadAvg1 > os.cpus().length / 2) process.stdout.write(`  (load average ${loadAvg1} on ${os.cpus().length} cores: absolute figures will be noisy)\n`);
  const stamp = () => ({ title: bench.title, ranAt, durationS: Math.round((performance.now() - t0) / 1000), loadAvg1 });
  try {
    const result = await bench.run(scope);
    results.benchmarks[bench.name] = { ...stamp(), ...result };
  } catch (err) {
    failed = true;
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`✖ ${bench.name} failed: ${message}\n`);
    results.benchmarks[bench.name] = { ...stamp(), figures: [], error: message };
  } finally {
    await scope.close();
    current = null;
  }
  process.stdout.write(`${renderPlainTable(tableRows({ [bench.name]: results.benchmarks[bench.name]! }, [bench.name]))}\n\n`);
}

const order = BENCHMARKS.map((b) => b.name);
await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
await updateMarkdown(MARKDOWN, results, order);
process.stdout.write(`All results (${Math.round((performance.now() - started) / 1000)} s this run; ${path.relative(process.cwd(), RESULTS)}, ${path.relative(process.cwd(), MARKDOWN)}):\n\n`);
process.stdout.write(`${renderPlainTable(tableRows(results.benchmarks, order))}\n`);
process.exit(failed ? 1 : 0);
