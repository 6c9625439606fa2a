// What an iteration does, drawn from its seed. Pure: the same seed always gives the same plan (the
// interleaving with the real processes is not replayed; the schedule and every choice are).
//
// Iterations share a world (runners, Redis, remote, ntfy, Vault) in groups of WORLD_ROUNDS consecutive
// seeds: the world is drawn from the group's key (seed / WORLD_ROUNDS), each round from its own seed.
// Starting runners is most of an iteration's cost; a round pushes fresh PR heads into a running world.
import { rng } from './rng.ts';

export type Phase = 'checkout' | 'plan' | 'decision' | 'apply' | 'audit';
export const PHASES: readonly Phase[] = ['checkout', 'plan', 'decision', 'apply', 'audit'];

export type RedisMode = 'shared' | 'aof-always' | 'aof-everysec' | 'none';
export type Channel = 'terminal' | 'ntfy';

/** Consecutive seeds that share one world. */
export const WORLD_ROUNDS = 8;

export interface WorldSpec {
  key: number;
  runners: number;
  redis: RedisMode;
  /** terminal: the driver decides through the CLI; ntfy: it taps the buttons on the phone (the ntfy double). */
  channel: Channel;
  /** Workspaces fetch plan and apply credentials from the Vault double. */
  vault: boolean;
  /** Each runner's audit directory is a small tmpfs of its own (root only), so it can fill up. */
  disk: boolean;
  /** How long the engine double sleeps in each plan and apply: the window the faults aim at. */
  engineDelayMs: number;
  /**
   * `approval.ttl` in seconds. Short in some worlds, where some decisions come late: the expiry passes
   * while a decision is on its way (what a clock jump past the expiry does to a pending request).
   */
  ttlS: number;
}

export type Fault =
  | { kind: 'kill'; signal: 'SIGKILL' | 'SIGTERM'; phase: Phase; restart: 'same' | 'other' | 'later'; restartDelayMs: number }
  | { kind: 'redis-restart'; phase: Phase | 'now'; downMs: number }
  | { kind: 'force-push'; phase: 'plan' }
  /** The engine process dies (SIGKILL, its state lock left behind) or hangs (SIGSTOP) until the runner's timeout. */
  | { kind: 'engine'; what: 'kill' | 'hang'; phase: 'plan' | 'apply' }
  /** Vault sealed, down or slow from a decision (before the apply fetches its credentials). */
  | { kind: 'vault'; what: 'sealed' | 'down' | 'slow'; forMs: number }
  /** Every ntfy stream drops while a decision is being tapped. */
  | { kind: 'ntfy-drop'; phase: 'decision' }
  /** The audit directory of the runner doing `phase` fills up for `forMs`, then has space again. */
  | { kind: 'disk-full'; phase: Phase; forMs: number };

/** Test-only breakage that the checker must report (negative controls). */
export type Break = 'duplicate-apply' | 'unapproved-apply' | 'tamper-audit' | 'lose-run';
export const BREAKS: readonly Break[] = ['duplicate-apply', 'unapproved-apply', 'tamper-audit', 'lose-run'];

export interface Scenario {
  seed: number;
  world: WorldSpec;
  /** How many PR heads the round pushes at its start. */
  heads: number;
  faults: Fault[];
  breaks: Break[];
}

/** The fault kind's name in the table. */
export function faultLabel(f: Fault, world: WorldSpec): string {
  switch (f.kind) {
    case 'kill':
      return `${f.signal}@${f.phase}`;
    case 'redis-restart':
      return `redis-crash(${world.redis})`;
    case 'force-push':
      return 'force-push@plan';
    case 'engine':
      return `engine-${f.what}@${f.phase}`;
    case 'vault':
      return `vault-${f.what}`;
    case 'ntfy-drop':
      return 'ntfy-stream-drop';
    case 'disk-full':
      return `disk-full@${f.phase}`;
  }
}

export interface WorldOptions {
  /** Whether this host can mount a tmpfs (root): without it no world has a small disk. */
  canMount?: boolean;
  /** Draw from these channels only. */
  channels?: readonly Channel[];
  /** This approval TTL instead of the drawn one (the smoke test keeps the long one). */
  ttlS?: number;
}

export function worldFor(seed: number, opts: WorldOptions = {}): WorldSpec {
  const key = Math.floor(seed / WORLD_ROUNDS);
  const r = rng(key * 1_000_003 + 17);
  const runners = r.weighted([[1, 4], [2, 3], [3, 2]] as const);
  const redis = r.weighted([['shared', 3], ['aof-always', 2], ['aof-everysec', 2], ['none', 3]] as const);
  const channel = r.pick(opts.channels ?? (['terminal', 'ntfy'] as const));
  const vault = r.chance(0.5);
  const disk = r.chance(0.5) && opts.canMount === true;
  const engineDelayMs = r.int(200, 1000);
  // Drawn last, so the worlds drawn before this existed keep their other choices.
  const ttlS = r.chance(0.3) ? 20 : 900;
  if (opts.ttlS !== undefined) return { key, runners, redis, channel, vault, disk, engineDelayMs, ttlS: opts.ttlS };
  return { key, runners, redis, channel, vault, disk, engineDelayMs, ttlS };
}

export function scenarioFor(seed: number, breaks: Break[] = [], opts: WorldOptions = {}): Scenario {
  const world = worldFor(seed, opts);
  const r = rng(seed);
  const heads = r.int(1, 3);
  const faults: Fault[] = [];
  const count = r.int(1, 3);
  for (let i = 0; i < count; i++) faults.push(drawFault(r, world));
  const scenario: Scenario = { seed, world, heads, faults, breaks };
  // `lose-run` needs one runner that is killed during a plan and never comes back.
  if (breaks.includes('lose-run')) {
    scenario.world = { ...world, runners: 1 };
    scenario.faults = [{ kind: 'kill', signal: 'SIGKILL', phase: 'plan', restart: 'later', restartDelayMs: 0 }];
  }
  return scenario;
}

function drawFault(r: ReturnType<typeof rng>, world: WorldSpec): Fault {
  const kind = r.weighted([
    ['kill', 6],
    ['redis-restart', world.redis === 'shared' ? 0 : 3],
    ['force-push', 1],
    ['engine', 2],
    ['vault', world.vault ? 2 : 0],
    ['ntfy-drop', world.channel === 'ntfy' ? 1 : 0],
    ['disk-full', world.disk ? 2 : 0],
  ] as const);
  switch (kind) {
    case 'kill':
      return {
        kind,
        signal: r.chance(0.6) ? 'SIGKILL' : 'SIGTERM',
        phase: r.pick(PHASES),
        restart: r.weighted([['same', 5], ['other', 3], ['later', 2]] as const),
        restartDelayMs: r.int(0, 2000),
      };
    case 'redis-restart':
      return { kind, phase: r.pick([...PHASES, 'now'] as const), downMs: r.int(100, 2500) };
    case 'force-push':
      return { kind, phase: 'plan' };
    case 'engine':
      return { kind, what: r.chance(0.6) ? 'kill' : 'hang', phase: r.pick(['plan', 'apply'] as const) };
    case 'vault':
      return { kind, what: r.pick(['sealed', 'down', 'slow'] as const), forMs: r.int(500, 4000) };
    case 'ntfy-drop':
      return { kind, phase: 'decision' };
    case 'disk-full':
      return { kind, phase: r.pick(PHASES), forMs: r.int(500, 4000) };
  }
}
