// Seeded iterations (rounds) in a world: build the world once, then per round push fresh heads, fire the
// faults in order while the driver decides, bring everything back, wait for every head to settle, and
// check the invariants on everything so far (a round reports the violations that are new). The world
// stops after its last round (or at the deadline) and is checked once more.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { armBreaks, tamperAudit } from './breaks.ts';
import { fire } from './faults.ts';
import { checkWorld, type Violation } from './invariants.ts';
import { scenarioFor, worldFor, type Break, type Scenario, type WorldOptions } from './scenario.ts';
import { sleep, World } from './world.ts';

export interface IterationResult {
  seed: number;
  scenario: Scenario;
  fired: string[];
  skipped: string[];
  violations: Violation[];
  recoveryMs: number | null;
  /** Engine applies during this round. */
  applies: number;
  /** Runs in the world at the end of the round. */
  runs: number;
  /** Where this round's heads ended: state → count. */
  states: Record<string, number>;
  ms: number;
  notes: string[];
  /** Where the world's files were kept (--keep, or a failing round). */
  root?: string;
  /** The world, when its files were kept (tests check it again after a change). */
  world?: World;
  error?: string;
}

export interface RunOptions {
  breaks?: Break[];
  keep?: boolean;
  /** No round starts after this time (ms epoch). */
  deadline?: number;
  world?: WorldOptions;
  log?: (line: string) => void;
}

const keyOf = (v: Violation) => `${v.invariant} ${v.detail}`;

/** Run the rounds `seeds` (one world's) in one world; returns one result per round run. */
export async function runWorld(seeds: number[], opts: RunOptions = {}): Promise<IterationResult[]> {
  const spec = worldFor(seeds[0]!, opts.world);
  const world = await World.create(spec);
  const results: IterationResult[] = [];
  const reported = new Set<string>();
  let broken: string | undefined;
  try {
    await world.startRunners();
  } catch (err) {
    broken = err instanceof Error ? (err.stack ?? err.message) : String(err);
  }
  for (const seed of seeds) {
    if (broken || (opts.deadline !== undefined && Date.now() >= opts.deadline)) break;
    const result = await runRound(world, seed, opts, reported);
    results.push(result);
    opts.log?.(describe(result));
    if (result.error) broken = result.error;
  }
  const last = results.at(-1);
  await world.stop().catch((err: unknown) => void (broken ??= String(err)));
  if (last) {
    try {
      if (opts.breaks?.includes('tamper-audit')) await tamperAudit(world);
      const after = (await checkWorld(world, { settled: false })).filter((v) => !reported.has(keyOf(v)));
      last.violations.push(...after);
    } catch (err) {
      last.error ??= err instanceof Error ? (err.stack ?? err.message) : String(err);
    }
    if (broken && !last.error) last.error = broken;
  }
  const failed = results.some((r) => r.violations.length > 0 || r.error);
  const keep = opts.keep === true || (failed && !opts.breaks?.length);
  if (keep) {
    await world.releaseDisks(true).catch(() => undefined);
    const outputs = world.slots.map((s) => `--- ${s.id} (started ${s.starts} times) ---\n${s.output}`);
    const report = [JSON.stringify(spec), ...results.map((r) => [`seed ${r.seed}: ${JSON.stringify(r.scenario.faults)} fired ${r.fired.join(' ')}`, ...r.violations.map((x) => `${x.invariant}: ${x.detail}`), r.error ?? '', ...r.notes].join('\n')), ...outputs];
    await writeFile(path.join(world.root, 'iteration.txt'), report.join('\n'));
    for (const r of results) Object.assign(r, { root: world.root, world });
  } else {
    await world.cleanup();
  }
  return results;
}

/** One iteration in a world of its own (a replay, a test, a negative control). */
export async function runIteration(seed: number, opts: RunOptions = {}): Promise<IterationResult> {
  const [result] = await runWorld([seed], opts);
  return result!;
}

async function runRound(world: World, seed: number, opts: RunOptions, reported: Set<string>): Promise<IterationResult> {
  const t0 = Date.now();
  const scenario = scenarioFor(seed, opts.breaks ?? [], opts.world);
  let error: string | undefined;
  const phases: string[] = [];
  let mark = Date.now();
  const lap = (name: string) => {
    phases.push(`${name} ${Date.now() - mark} ms`);
    mark = Date.now();
  };
  const appliesBefore = (await world.invocations('apply')).length;
  const styles = world.driver.styles.length;
  let violations: Violation[] = [];
  try {
    await world.beginRound(scenario);
    const breaking = armBreaks(world);
    for (const [i, fault] of scenario.faults.entries()) await fire(world, fault, i);
    await breaking;
    lap('faults');
    await world.recover();
    lap('recover');
    violations = await checkWorld(world);
    // A chain being appended to right now ends in half a line: look again before calling it broken.
    if (violations.some((v) => v.invariant === 'audit-chain')) {
      await sleep(1000);
      violations = await checkWorld(world);
    }
  } catch (err) {
    error = err instanceof Error ? (err.stack ?? err.message) : String(err);
  }
  const fresh = violations.filter((v) => !reported.has(keyOf(v)));
  for (const v of fresh) reported.add(keyOf(v));
  world.notes.push(`timing: ${phases.join(', ')}`);
  return {
    seed,
    scenario,
    fired: [...world.fired, ...world.driver.styles.slice(styles)],
    skipped: [...world.skipped],
    violations: fresh,
    recoveryMs: world.recoveryMs,
    applies: (await world.invocations('apply')).length - appliesBefore,
    runs: world.finalRuns?.length ?? 0,
    states: (world.finalRuns ?? []).filter((r) => world.roundShas.has(r.sha)).reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.state]: (acc[r.state] ?? 0) + 1 }), {}),
    ms: Date.now() - t0,
    notes: [...world.notes],
    ...(error ? { error } : {}),
  };
}

export function describe(r: IterationResult): string {
  const w = r.scenario.world;
  const v = r.violations.length ? ` VIOLATIONS ${r.violations.map((x) => x.invariant).join(',')}` : '';
  const head = `seed ${r.seed} [world ${w.key}: ${w.runners} runner(s), redis ${w.redis}, ${w.channel}${w.vault ? ', vault' : ''}${w.disk ? ', small disks' : ''}${w.ttlS < 60 ? `, ttl ${w.ttlS}s` : ''}]`;
  const lines = [`${head} fired [${r.fired.join(' ')}]${r.skipped.length ? ` skipped [${r.skipped.join(' ')}]` : ''}, ${r.applies} apply(s), runs ${Object.entries(r.states).map(([k, n]) => `${k}:${n}`).join(' ') || '-'}, recovered in ${r.recoveryMs ?? '-'} ms, ${(r.ms / 1000).toFixed(1)} s${v}${r.error ? ` ERROR ${r.error.split('\n')[0]}` : ''}`];
  for (const x of r.violations) lines.push(`  ${x.invariant}: ${x.detail}`);
  if (r.violations.length || r.error) lines.push(`  ${r.notes.join('; ')}`);
  return lines.join('\n');
}
