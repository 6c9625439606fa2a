// Pending approvals in Redis. Only sha256(token) is stored. Consuming is one script: the first decision on
// a run deletes every token of that run, so any later tap, on any device, finds nothing.
import type { Redis } from 'ioredis';
import type { ApprovalBinding } from './approve.ts';

// KEYS[1] = token key, KEYS[2] = run index; ARGV[1] = binding, ARGV[2] = ttl ms, ARGV[3] = token key
const PUT = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`;

// KEYS[1] = token key (or '' to take any token of the run), KEYS[2] = run index
const CONSUME = `
local binding = false
if KEYS[1] ~= '' then
  binding = redis.call('GET', KEYS[1])
  if not binding then return false end
else
  for _, key in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    binding = redis.call('GET', key)
    if binding then break end
  end
  if not binding then return false end
end
for _, key in ipairs(redis.call('SMEMBERS', KEYS[2])) do redis.call('DEL', key) end
redis.call('DEL', KEYS[2])
if KEYS[1] ~= '' then redis.call('DEL', KEYS[1]) end
return binding
`;

export class ApprovalStore {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {}

  #tokenKey(tokenHash: string): string {
    return `${this.prefix}:approval:${tokenHash}`;
  }

  #indexKey(runId: string): string {
    return `${this.prefix}:approvals-of:${runId}`;
  }

  /** Store a pending approval until its expiry. */
  async put(binding: ApprovalBinding): Promise<void> {
    const ttl = Math.max(1, Date.parse(binding.expiresAt) - Date.now());
    const key = this.#tokenKey(binding.tokenHash);
    await this.redis.eval(PUT, 2, key, this.#indexKey(binding.runId), JSON.stringify(binding), String(ttl), key);
  }

  /** Take the binding of a presented token, voiding every other token of its run. Null when unknown or used. */
  async consumeToken(tokenHash: string, runId: string): Promise<ApprovalBinding | null> {
    const raw = (await this.redis.eval(CONSUME, 2, this.#tokenKey(tokenHash), this.#indexKey(runId))) as string | null;
    return raw ? (JSON.parse(raw) as ApprovalBinding) : null;
  }

  /** Break-glass: take any pending binding of the run (the operator on the runner host holds no token). */
  async consumeAnyForRun(runId: string): Promise<ApprovalBinding | null> {
    const raw = (await this.redis.eval(CONSUME, 2, '', this.#indexKey(runId))) as string | null;
    return raw ? (JSON.parse(raw) as ApprovalBinding) : null;
  }

  /** Look up a binding without consuming it (for routing a reply to its run). */
  async peek(tokenHash: string): Promise<ApprovalBinding | null> {
    const raw = await this.redis.get(this.#tokenKey(tokenHash));
    return raw ? (JSON.parse(raw) as ApprovalBinding) : null;
  }

  /** Void every pending token of a run (superseded, expired). */
  async voidRun(runId: string): Promise<void> {
    await this.redis.eval(CONSUME, 2, '', this.#indexKey(runId));
  }

  async pendingFor(runId: string): Promise<number> {
    return this.redis.scard(this.#indexKey(runId));
  }
}
