// Runs in Redis: create once per (repo, workspace, sha), change only by compare-and-set on the version.
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { AirlockError } from '../errors.ts';
import type { Scrubber } from '../log/scrub.ts';
import { parseRedisValue, type QuarantineLog } from '../lib/redis-input.ts';
import { runIdOf, supersedeKey, transition, type Run, type RunState } from './run.ts';
import { isRunId, parseRunId, runIdSchema, runSchema } from './run-schema.ts';

const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, false} end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'version', '1', 'doc', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
local prev = redis.call('HGET', KEYS[3], 'run')
local prevAt = tonumber(redis.call('HGET', KEYS[3], 'seenAt') or '0')
if prev and prevAt > tonumber(ARGV[3]) then return {1, prev, 0} end
redis.call('HSET', KEYS[3], 'run', ARGV[4], 'seenAt', ARGV[3])
return {1, prev or false, 1}
`;

const COMPARE_AND_SET = `
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'version', ARGV[3], 'doc', ARGV[4])
return 1
`;

// A new attempt at a head (`airlock replan`): only from the attempt the head's PR still points at, only
// once (the previous run is compare-and-set), and the PR then points at the new attempt.
const CREATE_ATTEMPT = `
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 'changed' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'exists' end
local latest = redis.call('HGET', KEYS[4], 'run')
if latest and latest ~= ARGV[6] then return 'not-latest' end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'doc', ARGV[3])
redis.call('HSET', KEYS[2], 'state', 'planning', 'version', '1', 'doc', ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[7])
redis.call('HSET', KEYS[4], 'run', ARGV[7])
return 'created'
`;

// A run stored again from the audit chain after Redis lost its data: only where there is none, or where
// another runner restored it from older records and nobody has touched it since (version 1). The PR's
// newest-run pointer is set only if it is missing or older, so a head seen since the loss stays newest.
const RESTORE = `
local cur = redis.call('HMGET', KEYS[1], 'version', 'restoredFrom')
if cur[1] then
  if cur[1] ~= '1' or not cur[2] or tonumber(cur[2]) >= tonumber(ARGV[5]) then return 0 end
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'version', '1', 'doc', ARGV[2], 'restoredFrom', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
local prevAt = tonumber(redis.call('HGET', KEYS[3], 'seenAt') or '-1')
if prevAt < tonumber(ARGV[3]) then redis.call('HSET', KEYS[3], 'run', ARGV[4], 'seenAt', ARGV[3]) end
if cur[1] then return 2 end
return 1
`;

export type AttemptOutcome = 'created' | 'changed' | 'exists' | 'not-latest';

export interface NewRun {
  repo: string;
  ref: string;
  pr: number | null;
  sha: string;
  workspace: string;
  /** When the head was seen; a slower replica's older sighting never becomes the PR's latest run. */
  seenAt: number;
  /** A drift run: planned for the schedule slot (or `airlock drift` time) `driftSlot`. */
  drift?: { slot: string };
}

export interface CreateResult {
  run: Run;
  created: boolean;
  /** The run this one replaced as the newest for its PR and workspace. */
  previous: string | null;
  latest: boolean;
}

export class RunNotFoundError extends AirlockError {
  constructor(id: string) {
    super('airlock:run-not-found', `no run ${JSON.stringify(id)}`, { hint: 'List runs with `airlock runs`.' });
  }
}

export class RunStore {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    // Runs are read by other processes (the CLI) that do not hold this runner's secrets: scrub on write.
    private readonly scrubber?: Scrubber,
    private readonly log?: QuarantineLog,
    // While traces are on, every run is born with its trace context (a W3C traceparent), so no job has to
    // write it later: every job and process of the run joins that trace.
    private readonly newTraceparent?: () => string,
  ) {}

  #serialise(run: Run): string {
    return JSON.stringify(this.scrubber ? this.scrubber.scrub(run) : run);
  }

  #key(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  /** Create the run for a sighting unless it exists; tells which run it supersedes, if any. */
  async create(input: NewRun, now = new Date()): Promise<CreateResult> {
    const drift = input.drift ? { kind: 'drift' as const, driftSlot: input.drift.slot } : {};
    const id = runIdOf({ ...input, ...drift });
    const run: Run = {
      ...drift,
      id,
      repo: input.repo,
      ref: input.ref,
      pr: input.pr,
      sha: input.sha,
      workspace: input.workspace,
      state: 'planning',
      version: 1,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      ...(this.newTraceparent ? { traceparent: this.newTraceparent() } : {}),
    };
    // Refuse now what a read would quarantine later (an over-long ref from a hostile remote, say).
    const checked = runSchema.safeParse(run);
    if (!checked.success) {
      const problems = checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      throw new AirlockError('airlock:run-invalid', `the sighting of ${JSON.stringify(input.ref.slice(0, 80))} cannot become a run (${problems})`, {
        hint: 'Nothing is planned for this ref; push the change under a shorter, ordinary branch name.',
      });
    }
    const res = (await this.redis.eval(
      CREATE,
      3,
      this.#key('run', id),
      this.#key('runs'),
      this.#key('latest', Buffer.from(supersedeKey(run)).toString('base64url')),
      'planning',
      this.#serialise(run),
      String(input.seenAt),
      id,
    )) as [number, string | null, number?];
    if (res[0] === 0) return { run: await this.get(id), created: false, previous: null, latest: false };
    const previous = res[1] && res[1] !== id ? res[1] : null;
    return { run, created: true, previous, latest: res[2] === 1 };
  }

  /**
   * The run, or null when there is none or its record is not one Airlock wrote (quarantined: logged,
   * never acted on). The record must be stored under its own id: a document claiming another id is forged.
   */
  async find(id: string): Promise<Run | null> {
    parseRunId(id, 'run lookup');
    const key = this.#key('run', id);
    const [state, version, doc] = await this.redis.hmget(key, 'state', 'version', 'doc');
    if (doc === null && state === null && version === null) return null;
    let parsed: unknown = null;
    try {
      parsed = { ...(JSON.parse(doc ?? 'null') as object), state, version: Number(version) };
    } catch {
      parsed = 'not JSON';
    }
    return parseRedisValue(storedRunSchema(id), parsed, { kind: 'run record', key, log: this.log }) as Run | null;
  }

  async get(id: string): Promise<Run> {
    const run = await this.find(id);
    if (!run) throw new RunNotFoundError(id);
    return run;
  }

  /** The newest run for the run's PR (or branch, or drift-checked ref) and workspace. */
  async latestFor(run: Pick<Run, 'repo' | 'pr' | 'ref' | 'workspace' | 'kind'>): Promise<string | null> {
    const key = this.#key('latest', Buffer.from(supersedeKey(run)).toString('base64url'));
    const latest = await this.redis.hget(key, 'run');
    if (latest === null || isRunId(latest)) return latest;
    // A pointer that is not a run id was not written by a runner: quarantined, and no run is newest.
    parseRedisValue(runIdSchema, latest, { kind: 'latest-run pointer', key, log: this.log });
    return null;
  }

  /**
   * Apply `change` to the current run and store it only if nobody changed the run meanwhile; retried on
   * conflict. `change` returns null to leave the run alone. Returns the stored run, or null if left alone.
   * It never changes the state: state changes go through the run's transitions (transitions.ts).
   */
  async update(id: string, change: (run: Run) => Run | null): Promise<Run | null> {
    return this.#compareAndSet(id, (run) => {
      const next = change(run);
      if (next !== null && next.state !== run.state) {
        throw new AirlockError('airlock:illegal-transition', `run ${id}: a state change from ${run.state} to ${next.state} must go through the run's transitions`);
      }
      return next;
    });
  }

  /**
   * Move a run to `to` when `patchFor` (given the stored run) returns its patch; null when it returns null.
   * Only the run's transitions (transitions.ts) call this: they record and announce every move.
   */
  async moveWhere(id: string, to: RunState, patchFor: (run: Run) => Partial<Run> | null): Promise<Run | null> {
    return this.#compareAndSet(id, (run) => {
      const patch = patchFor(run);
      return patch === null ? null : transition(run, to, patch);
    });
  }

  async #compareAndSet(id: string, change: (run: Run) => Run | null): Promise<Run | null> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = await this.get(id);
      const next = change(current);
      if (next === null) return null;
      const stored = { ...next, version: current.version + 1 };
      const ok = await this.redis.eval(
        COMPARE_AND_SET,
        1,
        this.#key('run', id),
        String(current.version),
        stored.state,
        String(stored.version),
        this.#serialise(stored),
      );
      if (ok === 1) return stored;
    }
    throw new AirlockError('airlock:run-contended', `run ${id} kept changing under us; gave up after 20 attempts`);
  }

  /**
   * Put `previous` back over `moved` if nobody changed the run since (its version is still `moved`'s):
   * a move whose audit record could not be written did not happen. Transitions only.
   */
  async undoMove(moved: Run, previous: Run): Promise<boolean> {
    const stored = { ...previous, version: moved.version + 1 };
    const ok = await this.redis.eval(COMPARE_AND_SET, 1, this.#key('run', moved.id), String(moved.version), stored.state, String(stored.version), this.#serialise(stored));
    return ok === 1;
  }

  /** Move a run to `to` if its current state allows it; null when it is already elsewhere. Transitions only. */
  async moveIf(id: string, from: readonly RunState[], to: RunState, patch: Partial<Run> = {}): Promise<Run | null> {
    return this.moveWhere(id, to, (run) => (from.includes(run.state) ? patch : null));
  }

  /** Store `next` (state planning) as the new attempt after `previous`, marking `previous` replanned; atomic. */
  async createAttempt(previous: Run, next: Run, now = new Date()): Promise<AttemptOutcome> {
    const marked: Run = { ...previous, replannedBy: next.id, version: previous.version + 1 };
    return (await this.redis.eval(
      CREATE_ATTEMPT,
      4,
      this.#key('run', previous.id),
      this.#key('run', next.id),
      this.#key('runs'),
      this.#key('latest', Buffer.from(supersedeKey(previous)).toString('base64url')),
      String(previous.version),
      String(marked.version),
      this.#serialise(marked),
      this.#serialise(this.newTraceparent && next.traceparent === undefined ? { ...next, traceparent: this.newTraceparent() } : next),
      String(now.getTime()),
      previous.id,
      next.id,
    )) as AttemptOutcome;
  }

  /**
   * Store `run` (version 1, a final state) again after Redis lost its data; `recordAt` orders what two
   * runners know of one run (the later record wins while nobody has changed the run). Restore rules only.
   */
  async restore(run: Run, seenAt: number, recordAt: number): Promise<'created' | 'replaced' | null> {
    const res = (await this.redis.eval(
      RESTORE,
      3,
      this.#key('run', run.id),
      this.#key('runs'),
      this.#key('latest', Buffer.from(supersedeKey(run)).toString('base64url')),
      run.state,
      this.#serialise({ ...run, version: 1 }),
      String(seenAt),
      run.id,
      String(recordAt),
    )) as number;
    return res === 1 ? 'created' : res === 2 ? 'replaced' : null;
  }

  /** Newest first. */
  async list(limit = 50): Promise<Run[]> {
    const key = this.#key('runs');
    const ids = (await this.redis.zrevrange(key, 0, limit - 1)).filter((id) => isRunId(id) || parseRedisValue(runIdSchema, id, { kind: 'run index entry', key, log: this.log }) !== null);
    const runs = await Promise.all(ids.map((id) => this.find(id)));
    return runs.filter((r): r is Run => r !== null);
  }

  async listIn(states: readonly RunState[], limit = 1000): Promise<Run[]> {
    return (await this.list(limit)).filter((r) => states.includes(r.state));
  }
}

export const thisHost = hostname();

/** A stored run: under its own key, and its (repo, workspace, sha, attempt) still derive its id, so none of them was rewritten. */
function storedRunSchema(id: string) {
  return runSchema
    .refine((r) => r.id === id, { message: 'the record claims another run id than its key', path: ['id'] })
    .refine((r) => (r.kind === 'drift') === (r.driftSlot !== undefined), { message: 'a drift run has a slot, and only a drift run', path: ['driftSlot'] })
    .refine((r) => runIdOf(r) === r.id, { message: 'repo, workspace, sha, attempt and drift slot do not derive the run id', path: ['sha'] });
}
