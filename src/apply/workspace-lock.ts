// A per-workspace lock that serialises applies across runner processes. Each acquisition gets a fencing
// token (a counter that only grows), recorded with the apply so a stale holder can be told apart.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('INCR', KEYS[2]) end
return 0
`;

export interface HeldLock {
  fence: number;
  /** True while Redis still says we hold it. */
  isHeld(): Promise<boolean>;
  release(): Promise<void>;
}

export class WorkspaceLocks {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    readonly ttlMs = 60_000,
  ) {}

  #keys(repo: string, workspace: string): [string, string] {
    const id = Buffer.from(`${repo}\0${workspace}`).toString('base64url');
    return [`${this.prefix}:wslock:${id}`, `${this.prefix}:wsfence:${id}`];
  }

  /** Try once; null when someone else holds it. The lock renews itself until released. */
  async tryAcquire(repo: string, workspace: string, owner: string): Promise<HeldLock | null> {
    const [lockKey, fenceKey] = this.#keys(repo, workspace);
    const value = `${owner}:${randomBytes(8).toString('hex')}`;
    const fence = Number(await this.redis.eval(ACQUIRE, 2, lockKey, fenceKey, value, String(this.ttlMs)));
    if (fence === 0) return null;
    const timer = setInterval(() => {
      this.redis.eval(RENEW, 1, lockKey, value, String(this.ttlMs)).catch(() => undefined);
    }, Math.floor(this.ttlMs / 3));
    timer.unref();
    return {
      fence,
      isHeld: async () => (await this.redis.get(lockKey)) === value,
      release: async () => {
        clearInterval(timer);
        await this.redis.eval(RELEASE, 1, lockKey, value);
      },
    };
  }

  /** Wait up to `waitMs` for the lock, polling; null if it never came free. */
  async acquire(repo: string, workspace: string, owner: string, waitMs: number, signal?: AbortSignal): Promise<HeldLock | null> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const lock = await this.tryAcquire(repo, workspace, owner);
      if (lock || Date.now() >= deadline || signal?.aborted) return lock;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Who holds the lock now, for `airlock show` and doctor. */
  async holder(repo: string, workspace: string): Promise<string | null> {
    return this.redis.get(this.#keys(repo, workspace)[0]);
  }
}
