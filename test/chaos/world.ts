// One iteration's world: a git remote with PR heads, a Redis (the shared one under a fresh prefix, or one
// of the campaign's own with the persistence the scenario draws), runner processes, the engine double's
// invocation log, and the driver that decides. Faults are fired by faults.ts; checks read what is left.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Run } from '../../src/run/run.ts';
import { isFinal } from '../../src/run/run.ts';
import { makeRemote, pushCommit, type Remote } from '../git-fixtures.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { deletePrefix, readInvocations, REDIS_URL, removeDir, tempDir, testPrefix } from '../support/harness.ts';
import { TF_TWO } from '../e2e/loop-fixture.ts';
import { startChaosRedis, type ChaosRedis } from './chaos-redis.ts';
import { Driver } from './driver.ts';
import { makeSlot, type RunnerSlot } from './runner-slots.ts';
import type { Scenario } from './scenario.ts';

export interface Invocation {
  argv: string[];
  cwd: string;
  pid: number;
  time: string;
  planFile?: string;
  planSha256?: string | null;
}

/** How long every head may take to reach a final or waiting state once every fault is over. */
export const RECOVERY_BOUND_MS = 90_000;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class World {
  readonly slots: RunnerSlot[] = [];
  /** PR number → its current head. */
  readonly heads = new Map<number, string>();
  readonly pushed: string[] = [];
  /** Times at which Redis lost every key (a restart without persistence). */
  readonly wipes: number[] = [];
  readonly fired: string[] = [];
  readonly skipped: string[] = [];
  readonly notes: string[] = [];
  /** Runner ids killed by the `lose-run` break: never started again. */
  readonly abandoned = new Set<string>();
  driver!: Driver;
  finalRuns: Run[] | null = null;
  recoveryMs: number | null = null;
  #pushes = 0;

  private constructor(
    readonly scenario: Scenario,
    readonly root: string,
    readonly remote: Remote,
    readonly prefix: string,
    readonly redisUrl: string,
    readonly redis: ChaosRedis | null,
    readonly invocationLog: string,
  ) {}

  static async create(scenario: Scenario): Promise<World> {
    if (!engineForTests().isDouble) throw new Error('the chaos campaign counts applies through the engine double; unset AIRLOCK_TEST_ENGINE');
    const root = await tempDir(`chaos-${scenario.seed}`);
    const remote = await makeRemote();
    const redis = scenario.redis === 'shared' ? null : await startChaosRedis(scenario.redis);
    const world = new World(scenario, root, remote, testPrefix(), redis?.url ?? REDIS_URL, redis, path.join(root, 'engine-invocations.jsonl'));
    world.driver = new Driver(scenario.seed, world.redisUrl, world.prefix, (id) => world.slots.find((s) => s.id === id)?.file ?? null, () => world.redisUp);
    return world;
  }

  get redisUp(): boolean {
    return this.redis === null || this.redis.up;
  }

  async addSlot(): Promise<RunnerSlot> {
    const slot = await makeSlot(
      {
        root: this.root,
        remoteUrl: this.remote.url,
        redisUrl: this.redisUrl,
        prefix: this.prefix,
        engineEnv: { AIRLOCK_DOUBLE_LOG: this.invocationLog, AIRLOCK_DOUBLE_DELAY_MS: String(this.scenario.engineDelayMs), AIRLOCK_DOUBLE_DELAY_COMMANDS: 'plan,apply' },
      },
      `runner-${this.slots.length + 1}`,
    );
    this.slots.push(slot);
    return slot;
  }

  /** Push a new head to PR `pr` (a distinct configuration each time, so every plan's bytes differ). */
  async push(pr: number): Promise<string> {
    const n = ++this.#pushes;
    const sha = await pushCommit(this.remote, { 'main.tf': TF_TWO.replace('"one"', `"one-${pr}-${n}"`) }, { refs: [`refs/pull/${pr}/head`] });
    this.heads.set(pr, sha);
    this.pushed.push(sha);
    return sha;
  }

  async invocations(command?: string): Promise<Invocation[]> {
    const all = (await readInvocations(this.invocationLog)) as Invocation[];
    return command ? all.filter((i) => i.argv.includes(command)) : all;
  }

  /** The runner whose data dir holds `cwd` (an engine process's working directory). */
  slotOf(cwd: string): RunnerSlot | undefined {
    return this.slots.find((s) => cwd.startsWith(s.dataDir + path.sep));
  }

  /** Sizes of the runners' own chain files (not the CLI's), to see an append happen. */
  async chainSizes(): Promise<Map<string, { slot: RunnerSlot; size: number }>> {
    const sizes = new Map<string, { slot: RunnerSlot; size: number }>();
    for (const slot of this.slots) {
      const dir = path.join(slot.dataDir, 'audit');
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (!name.endsWith('.jsonl') || name.endsWith('-cli.jsonl')) continue;
        const size = await stat(path.join(dir, name)).then((s) => s.size, () => 0);
        sizes.set(path.join(dir, name), { slot, size });
      }
    }
    return sizes;
  }

  async startAll(): Promise<void> {
    for (let i = 0; i < this.scenario.runners; i++) await this.addSlot();
    for (const pr of this.scenario.prs) await this.push(pr);
    const started = await Promise.all(this.slots.map((s) => s.start()));
    if (started.some((ok) => !ok)) this.notes.push('a runner did not start at first');
    this.driver.start();
  }

  /** Whether every head is final, or waits for a decision the driver will not give. */
  settled(runs: Run[]): boolean {
    if (!this.driver.done(runs)) return false;
    if (!runs.every((r) => isFinal(r.state) || r.state === 'awaiting_approval')) return false;
    // After Redis lost every key, the runner does not plan the old heads again (issue 15 item 5: the
    // invariant there is fail-safe, no apply without a fresh approval); a head is owed a run only otherwise.
    return this.wipes.length > 0 || this.forgottenHeads(runs).length === 0;
  }

  /** Current PR heads with no run in Redis. */
  forgottenHeads(runs: Run[]): string[] {
    return [...this.heads.values()].filter((sha) => !runs.some((r) => r.sha === sha));
  }

  /** Bring everything back (Redis, every runner not abandoned) and wait for every head to settle. */
  async recover(): Promise<void> {
    if (this.redis && !this.redis.up) await this.redis.start();
    for (const slot of this.slots) {
      if (slot.alive || this.abandoned.has(slot.id)) continue;
      for (let i = 0; i < 3 && !(await slot.start()); i++) await sleep(1000);
    }
    const t0 = Date.now();
    let runs: Run[] | null = null;
    while (Date.now() - t0 < RECOVERY_BOUND_MS) {
      runs = await this.driver.snapshot();
      if (runs && this.settled(runs)) {
        // Still settled a moment later: nothing was about to move.
        await sleep(1500);
        const again = await this.driver.snapshot();
        if (again && this.settled(again)) {
          this.recoveryMs = Date.now() - t0 - 1500;
          this.finalRuns = again;
          return;
        }
      }
      await sleep(250);
    }
    this.finalRuns = runs ?? (await this.driver.snapshot());
  }

  /** Stop the driver, every runner (SIGTERM) and Redis; the files stay for the checks. */
  async stop(): Promise<void> {
    await this.driver.stop();
    await Promise.all(this.slots.map((s) => s.kill('SIGTERM')));
    if (this.redis) await this.redis.stop();
    else await deletePrefix(this.prefix);
  }

  async cleanup(): Promise<void> {
    await this.remote.cleanup();
    await removeDir(this.root);
  }
}
