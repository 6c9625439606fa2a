// One iteration's plan, drawn from its seed: how many runners, which Redis, which heads, and the faults in
// the order they fire. Pure: the same seed always gives the same scenario (the interleaving with the real
// processes is not replayed; the schedule and every choice are).
import { rng } from './rng.ts';

export type Phase = 'checkout' | 'plan' | 'decision' | 'apply' | 'audit';
export const PHASES: readonly Phase[] = ['checkout', 'plan', 'decision', 'apply', 'audit'];

export type RedisMode = 'shared' | 'aof-always' | 'aof-everysec' | 'none';

export type Fault =
  | { kind: 'kill'; signal: 'SIGKILL' | 'SIGTERM'; phase: Phase; restart: 'same' | 'other' | 'later'; restartDelayMs: number }
  | { kind: 'redis-restart'; phase: Phase | 'now'; downMs: number }
  | { kind: 'force-push'; phase: 'plan' };

/** Test-only breakage that the checker must report (negative controls). */
export type Break = 'duplicate-apply' | 'unapproved-apply' | 'tamper-audit' | 'lose-run';
export const BREAKS: readonly Break[] = ['duplicate-apply', 'unapproved-apply', 'tamper-audit', 'lose-run'];

export interface Scenario {
  seed: number;
  runners: number;
  redis: RedisMode;
  /** PR numbers that get a head at the start. */
  prs: number[];
  /** How long the engine double sleeps in each plan and apply: the window the faults aim at. */
  engineDelayMs: number;
  faults: Fault[];
  breaks: Break[];
}

/** The fault kind's name in the table. */
export function faultLabel(f: Fault): string {
  if (f.kind === 'kill') return `${f.signal}@${f.phase}`;
  if (f.kind === 'redis-restart') return 'redis-restart';
  return 'force-push@plan';
}

export function scenarioFor(seed: number, breaks: Break[] = []): Scenario {
  const r = rng(seed);
  const runners = r.weighted([[1, 4], [2, 3], [3, 2]] as const);
  const redis = r.weighted([['shared', 3], ['aof-always', 2], ['aof-everysec', 2], ['none', 2]] as const);
  const prs = Array.from({ length: r.int(1, 3) }, (_, i) => i + 1);
  const faults: Fault[] = [];
  const count = r.int(1, 3);
  for (let i = 0; i < count; i++) {
    const kind = r.weighted([['kill', 6], ['redis-restart', redis === 'shared' ? 0 : 3], ['force-push', 1]] as const);
    if (kind === 'kill') {
      faults.push({
        kind,
        signal: r.chance(0.6) ? 'SIGKILL' : 'SIGTERM',
        phase: r.pick(PHASES),
        restart: r.weighted([['same', 5], ['other', 3], ['later', 2]] as const),
        restartDelayMs: r.int(0, 2000),
      });
    } else if (kind === 'redis-restart') {
      faults.push({ kind, phase: r.pick([...PHASES, 'now'] as const), downMs: r.int(100, 2500) });
    } else {
      faults.push({ kind, phase: 'plan' });
    }
  }
  const scenario: Scenario = { seed, runners, redis, prs, engineDelayMs: r.int(300, 1500), faults, breaks };
  // `lose-run` needs one runner that is killed during a plan and never comes back.
  if (breaks.includes('lose-run')) {
    scenario.runners = 1;
    scenario.faults = [{ kind: 'kill', signal: 'SIGKILL', phase: 'plan', restart: 'later', restartDelayMs: 0 }];
  }
  return scenario;
}
