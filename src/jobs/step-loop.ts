// A job is a list of named steps run in order by this loop. Between steps it asks whether the job should
// go on (a newer head supersedes a plan), and it times each step, so the overhead benchmark and the logs
// read one set of figures.

import type { Run } from '../run/run.ts';

/** Runs one job of a run inside the run's trace (src/trace/ implements it); the jobs know only this shape. */
export type TraceJob = <T>(kind: 'plan' | 'apply', run: Run, work: () => Promise<T>) => Promise<T>;

export const untracedJob: TraceJob = (_kind, _run, work) => work();

export interface Step<C> {
  name: string;
  /** Whether the step belongs to this job at all (the lock step: drift checks only); absent means always. */
  when?(ctx: C): boolean;
  /** Returns 'done' when the job has ended (no changes, decided by policy, …) and no later step runs. */
  run(ctx: C): Promise<void | 'done'>;
}

export interface StepTimes {
  /** Milliseconds per step, in the order they ran. */
  steps: Array<{ name: string; ms: number }>;
}

export interface StepLoopOptions<C> {
  /** Called before every step; it throws to stop the job (a supersede, say). */
  before(ctx: C, step: string): Promise<void>;
  /** Hears each finished step's time. */
  onStep?(name: string, ms: number): void;
  /** Hears each step start; the function it returns hears the step's end, with what it threw (traces). */
  onStart?(ctx: C, step: string): ((error?: unknown) => void) | undefined;
}

export async function runSteps<C>(steps: ReadonlyArray<Step<C>>, ctx: C, options: StepLoopOptions<C>): Promise<StepTimes> {
  const times: StepTimes = { steps: [] };
  for (const step of steps) {
    if (step.when && !step.when(ctx)) continue; // not this job's step: no check, no time, no span
    await options.before(ctx, step.name);
    const ended = options.onStart?.(ctx, step.name);
    const started = performance.now();
    let outcome: void | 'done';
    try {
      outcome = await step.run(ctx);
    } catch (err) {
      ended?.(err);
      throw err;
    }
    ended?.();
    const ms = performance.now() - started;
    times.steps.push({ name: step.name, ms });
    options.onStep?.(step.name, ms);
    if (outcome === 'done') break;
  }
  return times;
}

/** `{ checkout: 12.3, … }` for a log line or an audit record, rounded to 0.1 ms. */
export function stepTimesObject(times: StepTimes): Record<string, number> {
  return Object.fromEntries(times.steps.map((s) => [s.name, Math.round(s.ms * 10) / 10]));
}
