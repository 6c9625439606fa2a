import { writeFile } from 'node:fs/promises';
import path from 'node:path';
// One seeded iteration: build the world, fire the faults in order while the driver decides, bring
// everything back, wait for every head to settle, stop, and check the invariants.
import { armBreaks, tamperAudit } from './breaks.ts';
import { fire } from './faults.ts';
import { checkWorld, type Violation } from './invariants.ts';
import { scenarioFor, type Break, type Scenario } from './scenario.ts';
import { World } from './world.ts';

export interface IterationResult {
  seed: number;
  scenario: Scenario;
  fired: string[];
  skipped: string[];
  violations: Violation[];
  recoveryMs: number | null;
  applies: number;
  runs: number;
  /** PR heads with no run after Redis lost every key (not planned again: the fail-safe behaviour). */
  forgotten: number;
  ms: number;
  notes: string[];
  /** Where the iteration's files were kept (--keep), for a failing seed. */
  root?: string;
  /** The world, when its files were kept (tests check it again after a change). */
  world?: World;
  error?: string;
}

export async function runIteration(seed: number, opts: { breaks?: Break[]; keep?: boolean } = {}): Promise<IterationResult> {
  const t0 = Date.now();
  const scenario = scenarioFor(seed, opts.breaks ?? []);
  const world = await World.create(scenario);
  let error: string | undefined;
  let violations: Violation[] = [];
  const phases: string[] = [];
  let mark = Date.now();
  const lap = (name: string) => {
    phases.push(`${name} ${Date.now() - mark} ms`);
    mark = Date.now();
  };
  try {
    await world.startAll();
    lap('start');
    const breaking = armBreaks(world);
    for (const [i, fault] of scenario.faults.entries()) await fire(world, fault, i);
    await breaking;
    lap('faults');
    await world.recover();
    lap('recover');
  } catch (err) {
    error = err instanceof Error ? (err.stack ?? err.message) : String(err);
  } finally {
    await world.stop().catch((err: unknown) => (error ??= String(err)));
    lap('stop');
    world.notes.push(`timing: ${phases.join(', ')}`);
  }
  try {
    if (scenario.breaks.includes('tamper-audit')) await tamperAudit(world);
    violations = await checkWorld(world);
  } catch (err) {
    error ??= err instanceof Error ? (err.stack ?? err.message) : String(err);
  }
  const failed = violations.length > 0 || error !== undefined;
  const keep = opts.keep === true || (failed && !scenario.breaks.length);
  const applies = (await world.invocations('apply').catch(() => [])).length;
  if (keep) {
    const outputs = world.slots.map((s) => `--- ${s.id} (started ${s.starts} times) ---\n${s.output}`);
    const report = [JSON.stringify(scenario), `fired: ${world.fired.join(' ')}`, ...violations.map((x) => `${x.invariant}: ${x.detail}`), error ?? '', ...world.notes, ...outputs];
    await writeFile(path.join(world.root, 'iteration.txt'), report.join('\n'));
  }
  if (!keep) await world.cleanup();
  return {
    seed,
    scenario,
    fired: world.fired,
    skipped: world.skipped,
    violations,
    recoveryMs: world.recoveryMs,
    applies,
    runs: world.finalRuns?.length ?? 0,
    forgotten: world.wipes.length && world.finalRuns ? world.forgottenHeads(world.finalRuns).length : 0,
    ms: Date.now() - t0,
    notes: world.notes,
    ...(keep ? { root: world.root, world } : {}),
    ...(error ? { error } : {}),
  };
}
