// One world: a git remote, a Redis (the shared one under a fresh prefix, or one of the campaign's own with
// the persistence drawn), runner processes, the engine double's invocation log, the driver that decides,
// and in some worlds the ntfy double (the approvers' phones), the Vault double and small audit disks.
// Rounds (iterations) run one after another in it; faults are fired by faults.ts; checks read what is left.
import { cp, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Run } from '../../src/run/run.ts';
import { isFinal } from '../../src/run/run.ts';
import { makeRemote, pushCommit, type Remote } from '../git-fixtures.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { deletePrefix, REDIS_URL, removeDir, tempDir, testPrefix, TF_TWO } from './support.ts';
import { ntfyUnderTest, type NtfyUnderTest } from '../approve/ntfy-fixture.ts';
import { createScenario, KV2, vaultForTests, type Scenario as VaultScenario, type VaultUnderTest } from '../credentials/vault-fixture.ts';
import { startChaosRedis, type ChaosRedis } from './chaos-redis.ts';
import { Driver } from './driver.ts';
import { makeSlot, type RunnerSlot, type SlotSpec } from './runner-slots.ts';
import type { Scenario, WorldSpec } from './scenario.ts';

export interface Invocation {
  argv: string[];
  cwd: string;
  pid: number;
  time: string;
  startedAtMs?: number;
  planFile?: string;
  planSha256?: string | null;
}

/**
 * How long the world may go without progress (a run moving, an engine process, an audit record) while some
 * head is not yet final or waiting: a head in limbo is one that makes no progress for this long. On a
 * loaded host a plan alone can take a minute, so the bound is on progress, not on the whole recovery,
 * which RECOVERY_CAP_MS caps.
 */
export const RECOVERY_BOUND_MS = 90_000;
export const RECOVERY_CAP_MS = 600_000;
/** At most this many runner ids in a world: a restart as "another runner" reuses one beyond it. */
const MAX_SLOTS = 5;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class World {
  readonly slots: RunnerSlot[] = [];
  /** PR number → its current head. */
  readonly heads = new Map<number, string>();
  readonly pushed: string[] = [];
  /** Times at which Redis lost every key (a restart without persistence). */
  readonly wipes: number[] = [];
  /** When a runner's audit disk was full (from, to). */
  readonly fullDisks: Array<{ slot: string; from: number; to: number }> = [];
  /** Runner ids killed by the `lose-run` break: never started again. */
  readonly abandoned = new Set<string>();
  driver!: Driver;
  ntfy: NtfyUnderTest | null = null;
  vault: { under: VaultUnderTest; scenario: VaultScenario; workspace: SlotSpec['workspaces'] } | null = null;
  // The current round's record.
  scenario!: Scenario;
  fired: string[] = [];
  skipped: string[] = [];
  notes: string[] = [];
  finalRuns: Run[] | null = null;
  recoveryMs: number | null = null;
  roundStartedAt = 0;
  /** Heads pushed in this round. */
  roundShas = new Set<string>();
  #nextPr = 1;
  #pushes = 0;
  #invocations: Invocation[] = [];
  #invOffset = 0;
  #invPartial = '';
  #closers: Array<() => Promise<unknown>> = [];

  private constructor(
    readonly spec: WorldSpec,
    readonly root: string,
    readonly remote: Remote,
    readonly prefix: string,
    readonly redisUrl: string,
    readonly redis: ChaosRedis | null,
    readonly invocationLog: string,
  ) {}

  static async create(spec: WorldSpec): Promise<World> {
    if (!engineForTests().isDouble) throw new Error('the chaos campaign counts applies through the engine double; unset AIRLOCK_TEST_ENGINE');
    const root = await tempDir(`chaos-${spec.key}`);
    const remote = await makeRemote();
    const redis = spec.redis === 'shared' ? null : await startChaosRedis(spec.redis);
    const world = new World(spec, root, remote, testPrefix(), redis?.url ?? REDIS_URL, redis, path.join(root, 'engine-invocations.jsonl'));
    const cleanups = { after: (fn: () => Promise<void>) => void world.#closers.push(fn) };
    if (spec.channel === 'ntfy') world.ntfy = await ntfyUnderTest(cleanups as unknown as Parameters<typeof ntfyUnderTest>[0], { keepaliveMs: 5000 });
    if (spec.vault) {
      const under = await vaultForTests();
      const scenario = await createScenario(under);
      world.#closers.push(async () => {
        await scenario.cleanup();
        await under.close();
      });
      world.vault = { under, scenario, workspace: [await vaultWorkspace(scenario)] };
    }
    const phone = world.ntfy ? { notifications: (a: 'alice' | 'bob') => world.ntfy!.notifications(a), tap: (action: Parameters<NtfyUnderTest['tap']>[0]) => world.ntfy!.tap(action) } : null;
    world.driver = new Driver(spec.key, world.redisUrl, world.prefix, (id) => world.slots.find((s) => s.id === id)?.file ?? null, () => world.redisUp, phone);
    world.driver.lateCli = spec.ttlS < 60;
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
        engineEnv: { AIRLOCK_DOUBLE_LOG: this.invocationLog, AIRLOCK_DOUBLE_DELAY_MS: String(this.spec.engineDelayMs), AIRLOCK_DOUBLE_DELAY_COMMANDS: 'plan,apply' },
        approval: this.ntfy ? this.ntfy.approvalSection({ ttl: `${this.spec.ttlS}s` }) : { channel: 'terminal', ttl: `${this.spec.ttlS}s` },
        ...(this.vault ? { workspaces: this.vault.workspace!, vault: { address: this.vault.under.address, timeout: '2s' } } : {}),
        disk: this.spec.disk,
      },
      `runner-${this.slots.length + 1}`,
    );
    this.slots.push(slot);
    return slot;
  }

  /** A slot to restart "as another runner": a new one, or (beyond MAX_SLOTS) a dead one. */
  async otherSlot(than: RunnerSlot): Promise<RunnerSlot> {
    if (this.slots.length < MAX_SLOTS) return this.addSlot();
    return this.slots.find((s) => s !== than && !s.alive && !this.abandoned.has(s.id)) ?? than;
  }

  /** Push a new head to PR `pr` (a distinct configuration each time, so every plan's bytes differ). */
  async push(pr: number): Promise<string> {
    const n = ++this.#pushes;
    const sha = await pushCommit(this.remote, { 'main.tf': TF_TWO.replace('"one"', `"one-${pr}-${n}"`) }, { refs: [`refs/pull/${pr}/head`] });
    this.heads.set(pr, sha);
    this.pushed.push(sha);
    this.roundShas.add(sha);
    return sha;
  }

  /** A PR number no round used yet. */
  newPr(): number {
    return this.#nextPr++;
  }

  /** Every engine invocation so far (read incrementally: the log only grows). */
  async invocations(command?: string): Promise<Invocation[]> {
    const handle = await open(this.invocationLog, 'r').catch(() => null);
    if (handle) {
      try {
        const { size } = await handle.stat();
        if (size > this.#invOffset) {
          const buf = Buffer.alloc(size - this.#invOffset);
          await handle.read(buf, 0, buf.length, this.#invOffset);
          this.#invOffset = size;
          const lines = (this.#invPartial + buf.toString('utf8')).split('\n');
          this.#invPartial = lines.pop() ?? '';
          for (const l of lines) if (l.trim()) this.#invocations.push(JSON.parse(l) as Invocation);
        }
      } finally {
        await handle.close();
      }
    }
    return command ? this.#invocations.filter((i) => i.argv.includes(command)) : [...this.#invocations];
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

  /** Start the world's first runners (once). */
  async startRunners(): Promise<void> {
    for (let i = 0; i < this.spec.runners; i++) await this.addSlot();
    const started = await Promise.all(this.slots.map((s) => s.start()));
    if (started.some((ok) => !ok)) this.notes.push('a runner did not start at first');
    if (this.ntfy) await this.waitListening();
    this.driver.start();
  }

  /** In an ntfy world, requests are only worth sending once every runner hears replies. */
  private async waitListening(): Promise<void> {
    for (let i = 0; i < 200 && this.slots.some((s) => s.alive && (s.events.get('ntfy.listening') ?? 0) === 0 && !s.output.includes('"listening for replies"')); i++) await sleep(50);
  }

  /** Begin a round: its record is fresh, and it pushes its heads on PR numbers of its own. */
  async beginRound(scenario: Scenario): Promise<void> {
    this.scenario = scenario;
    this.fired = [];
    this.skipped = [];
    this.notes = [];
    this.finalRuns = null;
    this.recoveryMs = null;
    this.roundStartedAt = Date.now();
    this.roundShas = new Set();
    for (let i = 0; i < scenario.heads; i++) await this.push(this.newPr());
  }

  /** Whether every head is final, or waits for a decision the driver will not give. */
  settled(runs: Run[]): boolean {
    if (!this.driver.done(runs)) return false;
    if (!runs.every((r) => isFinal(r.state) || r.state === 'awaiting_approval')) return false;
    // Every current head has a run: after Redis lost its keys, restored from the chains (invariant 5).
    return this.forgottenHeads(runs).length === 0;
  }

  /** Current PR heads with no run in Redis. */
  forgottenHeads(runs: Run[]): string[] {
    return [...this.heads.values()].filter((sha) => !runs.some((r) => r.sha === sha));
  }

  /** Bring everything back (Redis, disks, every runner not abandoned) and wait for every head to settle. */
  async recover(): Promise<void> {
    if (this.redis && !this.redis.up) await this.redis.start();
    for (const slot of this.slots) {
      if (slot.alive || this.abandoned.has(slot.id)) continue;
      for (let i = 0; i < 3 && !(await slot.start()); i++) await sleep(1000);
    }
    const t0 = Date.now();
    let runs: Run[] | null = null;
    let progress = '';
    let progressAt = t0;
    while (Date.now() - progressAt < RECOVERY_BOUND_MS && Date.now() - t0 < RECOVERY_CAP_MS) {
      runs = await this.driver.snapshot();
      const now = `${(runs ?? []).map((r) => `${r.id}:${r.version}`).join(',')} ${(await this.invocations()).length} ${[...(await this.chainSizes()).values()].reduce((n, c) => n + c.size, 0)}`;
      if (now !== progress) [progress, progressAt] = [now, Date.now()];
      if (runs && this.settled(runs)) {
        // Still settled a moment later: nothing was about to move.
        await sleep(500);
        const again = await this.driver.snapshot();
        if (again && this.settled(again)) {
          this.recoveryMs = Date.now() - t0 - 500;
          this.finalRuns = again;
          return;
        }
      }
      await sleep(200);
    }
    this.finalRuns = runs ?? (await this.driver.snapshot());
  }

  /** Stop the driver, every runner (SIGTERM), Redis and the doubles; the files stay for the checks. */
  async stop(): Promise<void> {
    await this.driver.stop();
    await Promise.all(this.slots.map((s) => s.kill('SIGTERM')));
    if (this.redis) await this.redis.stop();
    else await deletePrefix(this.prefix);
    for (const close of this.#closers.splice(0).reverse()) await close().catch(() => undefined);
  }

  /** Unmount the small disks; with `keep`, their audit files are copied out first, to where they were. */
  async releaseDisks(keep: boolean): Promise<void> {
    for (const slot of this.slots) {
      if (!slot.disk) continue;
      const audit = path.join(slot.dataDir, 'audit');
      if (keep) await cp(audit, `${audit}.kept`, { recursive: true });
      await slot.disk.unmount();
      if (keep) {
        await rm(audit, { recursive: true, force: true });
        await rename(`${audit}.kept`, audit);
      }
    }
  }

  async cleanup(): Promise<void> {
    await this.releaseDisks(false);
    await this.remote.cleanup();
    await removeDir(this.root);
  }
}

/** The `default` workspace with a plan and an apply identity of the Vault scenario (as test/credentials/vault-loop.ts). */
async function vaultWorkspace(s: VaultScenario): Promise<{ name: string; dir: string } & Record<string, unknown>> {
  const plan = { roleId: s.plan.roleId, secretIdFile: await s.secretIdFile('plan'), secrets: { PM_API_TOKEN_SECRET: `${KV2}/data/${s.id}/plan#token` } };
  const apply = { roleId: s.apply.roleId, secretIdFile: await s.secretIdFile('apply'), wrapped: false, secrets: { PM_API_TOKEN_SECRET: `${KV2}/data/${s.id}/apply#token`, APPLY_CANARY: `${KV2}/data/${s.id}/apply#canary` } };
  return { name: 'default', dir: '.', credentials: { plan, apply } };
}
