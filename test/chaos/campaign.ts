// `npm run chaos`: seeded iterations of real runner processes under faults, with the invariants checked
// after each, and a table at the end.
//   npm run chaos -- --iterations 1000 --minutes 60   (a run; the base seed is printed)
//   npm run chaos -- --seed 1234                      (replay one iteration; its files are kept)
//   npm run chaos -- --break duplicate-apply          (a negative control: must report violations)
import { parseArgs } from 'node:util';
import { runWorld, type IterationResult } from './iteration.ts';
import { INVARIANTS } from './invariants.ts';
import { BREAKS, WORLD_ROUNDS, type Break } from './scenario.ts';
import { canMount } from '../support/small-disk.ts';

export interface CampaignOptions {
  seeds: number[];
  minutes: number;
  breaks: Break[];
  keep: boolean;
  /** Worlds run at once. */
  parallel: number;
  log: (line: string) => void;
  /** Called after each world with every result so far (the CLI prints the table now and then). */
  onWorld?: (results: IterationResult[]) => void;
}

/** Consecutive seeds of one world, in order. */
export function groupByWorld(seeds: number[]): number[][] {
  const groups: number[][] = [];
  for (const seed of seeds) {
    const last = groups.at(-1);
    if (last && Math.floor(last[0]! / WORLD_ROUNDS) === Math.floor(seed / WORLD_ROUNDS)) last.push(seed);
    else groups.push([seed]);
  }
  return groups;
}

export async function runCampaign(opts: CampaignOptions): Promise<IterationResult[]> {
  const results: IterationResult[] = [];
  const deadline = Date.now() + opts.minutes * 60_000;
  const queue = groupByWorld(opts.seeds);
  const world = { canMount: canMount() };
  const worker = async () => {
    for (let group = queue.shift(); group && Date.now() < deadline; group = queue.shift()) {
      try {
        results.push(...(await runWorld(group, { breaks: opts.breaks, keep: opts.keep, deadline, world, log: opts.log })));
        opts.onWorld?.(results);
      } catch (err) {
        opts.log(`world of seeds ${group[0]}..${group.at(-1)}: HARNESS ERROR ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.parallel) }, worker));
  return results.sort((a, b) => a.seed - b.seed);
}

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The table: faults fired per kind × violations per invariant in the iterations where that kind fired. */
export function table(results: IterationResult[], elapsedMs: number): string {
  const kinds = new Map<string, { fired: number; skipped: number; iterations: Set<number> }>();
  for (const r of results) {
    for (const k of r.fired) {
      const e = kinds.get(k) ?? { fired: 0, skipped: 0, iterations: new Set() };
      e.fired++;
      e.iterations.add(r.seed);
      kinds.set(k, e);
    }
    for (const k of r.skipped) {
      const e = kinds.get(k) ?? { fired: 0, skipped: 0, iterations: new Set() };
      e.skipped++;
      kinds.set(k, e);
    }
  }
  const head = `| fault | fired | not reached | ${INVARIANTS.join(' | ')} |`;
  const rule = `| --- | ---: | ---: | ${INVARIANTS.map(() => '---:').join(' | ')} |`;
  const rows = [...kinds.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, e]) => {
      const counts = INVARIANTS.map((inv) => results.filter((r) => e.iterations.has(r.seed)).reduce((n, r) => n + r.violations.filter((x) => x.invariant === inv).length, 0));
      return `| ${kind} | ${e.fired} | ${e.skipped} | ${counts.join(' | ')} |`;
    });
  const totals = INVARIANTS.map((inv) => results.reduce((n, r) => n + r.violations.filter((x) => x.invariant === inv).length, 0));
  const recovery = results.map((r) => r.recoveryMs).filter((x): x is number => x !== null);
  const errors = results.filter((r) => r.error).length;
  const perMin = results.length / (elapsedMs / 60_000);
  const count = (f: (r: IterationResult) => boolean) => results.filter(f).length;
  const byRedis = ['shared', 'aof-always', 'aof-everysec', 'none'].map((m) => `${m} ${count((r) => r.scenario.world.redis === m)}`).join(', ');
  const byRunners = [1, 2, 3].map((n) => `${n}: ${count((r) => r.scenario.world.runners === n)}`).join(', ');
  const worlds = new Set(results.map((r) => r.scenario.world.key)).size;
  const channels = `terminal ${count((r) => r.scenario.world.channel === 'terminal')}, ntfy ${count((r) => r.scenario.world.channel === 'ntfy')}; with Vault ${count((r) => r.scenario.world.vault)}; with small audit disks ${count((r) => r.scenario.world.disk)}`;
  return [
    head,
    rule,
    ...rows,
    `| **all iterations** | ${results.reduce((n, r) => n + r.fired.length, 0)} | ${results.reduce((n, r) => n + r.skipped.length, 0)} | ${totals.join(' | ')} |`,
    '',
    `iterations: ${results.length} (${results.filter((r) => r.violations.length > 0).length} with violations, ${errors} with harness errors) in ${(elapsedMs / 60_000).toFixed(1)} min, ${perMin.toFixed(2)} iterations/min`,
    `worlds: ${worlds} (up to ${WORLD_ROUNDS} iterations each); iterations by redis: ${byRedis}; by runners at start: ${byRunners}; by approval channel: ${channels}`,
    `engine applies: ${results.reduce((n, r) => n + r.applies, 0)}; iterations with Redis losing every key: ${count((r) => r.fired.includes('redis-crash(none)'))}`,
    `recovery (last fault over → every head final or waiting): p50 ${percentile(recovery, 50) ?? '-'} ms, max ${recovery.length ? Math.max(...recovery) : '-'} ms`,
  ].join('\n');
}

async function cli(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      'base-seed': { type: 'string' },
      iterations: { type: 'string', default: '1000' },
      minutes: { type: 'string', default: '60' },
      parallel: { type: 'string', default: '1' },
      break: { type: 'string', multiple: true, default: [] },
      keep: { type: 'boolean', default: false },
    },
  });
  const breaks = values.break as Break[];
  for (const b of breaks) if (!BREAKS.includes(b)) throw new Error(`--break ${b}: not one of ${BREAKS.join(', ')}`);
  const int = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} ${v}: a whole number is needed`);
    return n;
  };
  const single = values.seed !== undefined;
  const base = values['base-seed'] !== undefined ? int('base-seed', values['base-seed']) : single ? int('seed', values.seed!) : Date.now() % 1_000_000_000;
  const count = single ? 1 : int('iterations', values.iterations!);
  // A negative control runs each seed in a world of its own: the breakage must not leak into other rounds.
  const seeds = Array.from({ length: count }, (_, i) => (breaks.length ? (base + i) * WORLD_ROUNDS : base + i));
  console.log(single ? `replaying seed ${base} (its world, this round only)` : `chaos campaign: base seed ${base}, up to ${count} iterations or ${values.minutes} minutes, ${values.parallel} world(s) at once${breaks.length ? `, BREAKS ${breaks.join(',')}` : ''}`);
  const t0 = Date.now();
  let shown = Date.now();
  // A long campaign shows the table so far every 15 minutes, so a run cut short still has its figures.
  const onWorld = (so: IterationResult[]) => {
    if (Date.now() - shown < 15 * 60_000) return;
    shown = Date.now();
    console.log(`\n-- so far --\n${table([...so].sort((a, b) => a.seed - b.seed), Date.now() - t0)}\n`);
  };
  const results = await runCampaign({ seeds, minutes: Number(values.minutes), breaks, keep: values.keep === true || single, parallel: int('parallel', values.parallel!), log: (l) => console.log(l), onWorld });
  console.log('\n' + table(results, Date.now() - t0));
  const bad = results.some((r) => r.violations.length > 0 || r.error);
  return breaks.length ? (results.some((r) => r.violations.length > 0) ? 0 : 1) : bad ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await cli();
  // Connections of the in-process CLI may linger; the campaign is over.
  process.exit();
}
