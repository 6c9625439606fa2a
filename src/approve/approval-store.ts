// Pending approvals in Redis. Only sha256(token) is stored. Consuming is one script: the first decision on
// a run deletes every token of that run, so any later tap, on any device, finds nothing. A spent token
// leaves a tombstone (why it went, for which run) so a replay is refused and audited with its real reason.
// The pending set caps how many requests are out at once; the held set queues the rest, oldest first.
// Bindings and tombstones are sealed by the runner (approval-seal.ts); what does not verify is quarantined.
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { isRunId } from '../run/run-schema.ts';
import { RedisInputError, reportQuarantine, type QuarantineLog } from '../lib/redis-input.ts';
import { bindingEnvelope, openSealed, sealRecord, tombstoneEnvelope, type Sealed, type Sealer, type Tombstone } from './approval-seal.ts';
import type { ApprovalBinding } from './approve.ts';

export type { Tombstone };

// A token stays readable this long past its expiry, so a late tap is refused as "expired", not "unknown".
const GRACE_MS = 3600_000;
const TOMBSTONE_MS = 24 * 3600_000;

// KEYS[1] = token key, KEYS[2] = run index; ARGV[1] = binding, ARGV[2] = ttl ms, ARGV[3] = token key
const PUT = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return 1
`;

// KEYS[1] = run index, KEYS[2] = token key (absent: take any token of the run)
// ARGV[1] = tombstone of the presented token, ARGV[2] = tombstone of the others, ARGV[3] = tombstone ttl ms,
// ARGV[4] = the token-key prefix: an index entry naming any other key is not touched.
const CONSUME = `
local tokenKey = KEYS[2]
local function ours(key) return string.sub(key, 1, #ARGV[4]) == ARGV[4] end
local binding = false
if tokenKey then
  binding = redis.call('GET', tokenKey)
  if not binding then return false end
else
  for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    if ours(key) then binding = redis.call('GET', key) end
    if binding then break end
  end
  if not binding then return false end
end
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if key ~= tokenKey and ours(key) and redis.call('DEL', key) == 1 then redis.call('SET', key .. ':spent', ARGV[2], 'PX', ARGV[3]) end
end
redis.call('DEL', KEYS[1])
if tokenKey then
  redis.call('DEL', tokenKey)
  redis.call('SET', tokenKey .. ':spent', ARGV[1], 'PX', ARGV[3])
end
return binding
`;

// KEYS[1] = pending, KEYS[2] = held; ARGV[1] = run id, ARGV[2] = cap, ARGV[3] = now
const CLAIM = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[1])
return 0
`;

// KEYS[1] = pending, KEYS[2] = held; ARGV[1] = cap, ARGV[2] = now
const PROMOTE = `
local promoted = {}
while redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) do
  local next = redis.call('ZPOPMIN', KEYS[2])
  if #next == 0 then break end
  redis.call('ZADD', KEYS[1], ARGV[2], next[1])
  table.insert(promoted, next[1])
end
return promoted
`;

/** A peeked binding: this runner's, verified; or one sealed by another runner on the same prefix. */
export type Peeked = { binding: ApprovalBinding; foreign?: undefined } | { foreign: string; binding?: undefined };

export class ApprovalStore {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    private readonly sealer: Sealer,
    private readonly log?: QuarantineLog,
  ) {}

  #seal(kind: 'binding' | 'tombstone', body: ApprovalBinding | Tombstone): string {
    return sealRecord(this.sealer, kind, body);
  }

  #open<B>(kind: 'binding' | 'tombstone', schema: z.ZodType<Sealed<B>>, raw: string, key: string) {
    return openSealed(this.sealer, kind, schema, raw, { key, log: this.log });
  }

  /** Keep only run ids in a set read back from Redis; anything else is quarantined and removed. */
  async #runIds(ids: string[], key: string): Promise<string[]> {
    const bad = ids.filter((id) => !isRunId(id));
    for (const id of bad) reportQuarantine(this.log, new RedisInputError('approval slot entry', key, [`${JSON.stringify(id.slice(0, 80))} is not a run id`]));
    if (bad.length > 0) await this.redis.zrem(key, ...bad);
    return ids.filter((id) => isRunId(id));
  }

  #tokenKey(tokenHash: string): string {
    return `${this.prefix}:approval:${tokenHash}`;
  }

  #indexKey(runId: string): string {
    return `${this.prefix}:approvals-of:${runId}`;
  }

  get #pendingKey(): string {
    return `${this.prefix}:approvals-pending`;
  }

  get #heldKey(): string {
    return `${this.prefix}:approvals-held`;
  }

  /** Store a pending approval; it stays readable a grace period past its expiry (expiry is checked on use). */
  async put(binding: ApprovalBinding): Promise<void> {
    const ttl = Math.max(1, Date.parse(binding.expiresAt) - Date.now()) + GRACE_MS;
    const key = this.#tokenKey(binding.tokenHash);
    await this.redis.eval(PUT, 2, key, this.#indexKey(binding.runId), this.#seal('binding', binding), String(ttl), key);
  }

  /** Take the binding of a presented token, voiding every other token of its run. Null when unknown or used. */
  async consumeToken(tokenHash: string, runId: string, othersReason = 'another decision on this run came first'): Promise<ApprovalBinding | null> {
    return this.#consume(this.#tokenKey(tokenHash), runId, { runId, reason: 'already used' }, { runId, reason: othersReason });
  }

  /** Break-glass: take any pending binding of the run (the operator on the runner host holds no token). */
  async consumeAnyForRun(runId: string): Promise<ApprovalBinding | null> {
    return this.#consume('', runId, { runId, reason: 'already used' }, { runId, reason: 'the run was decided on the runner host' });
  }

  /** Look up a binding without consuming it (for routing a reply to its run). Null when unknown or forged. */
  async peek(tokenHash: string): Promise<Peeked | null> {
    const key = this.#tokenKey(tokenHash);
    const raw = await this.redis.get(key);
    const opened = raw === null ? null : this.#open('binding', bindingEnvelope, raw, key);
    if (opened === null || 'foreign' in opened) return opened;
    return this.#bound(opened.body, tokenHash, key) ? { binding: opened.body } : null;
  }

  /** Why a token that is no longer pending went away, if it was one of ours within the last day. */
  async tombstone(tokenHash: string): Promise<Tombstone | null> {
    const key = `${this.#tokenKey(tokenHash)}:spent`;
    const raw = await this.redis.get(key);
    const opened = raw === null ? null : this.#open('tombstone', tombstoneEnvelope, raw, key);
    return opened !== null && 'body' in opened ? opened.body : null;
  }

  /** A sealed binding found under another token's key was moved there: quarantined. */
  #bound(binding: ApprovalBinding, tokenHash: string, key: string): boolean {
    if (binding.tokenHash === tokenHash) return true;
    reportQuarantine(this.log, new RedisInputError('approval binding', key, ['sealed for another token']));
    return false;
  }

  /** Remove bindings that were stored for a request that never went out; other tokens of the run stay. */
  async discard(runId: string, tokenHashes: string[]): Promise<void> {
    if (tokenHashes.length === 0) return;
    const keys = tokenHashes.map((h) => this.#tokenKey(h));
    await this.redis.multi().del(...keys).srem(this.#indexKey(runId), ...keys).exec();
  }

  /** Void every pending token of a run (superseded, expired). */
  async voidRun(runId: string, reason: string): Promise<void> {
    await this.#consume('', runId, { runId, reason }, { runId, reason });
  }

  async pendingFor(runId: string): Promise<number> {
    return this.redis.scard(this.#indexKey(runId));
  }

  /** Take one of the runner's `cap` request slots for a run; false means it must wait (it is queued). */
  async claimSlot(runId: string, cap: number, now = Date.now()): Promise<boolean> {
    return (await this.redis.eval(CLAIM, 2, this.#pendingKey, this.#heldKey, runId, String(cap), String(now))) === 1;
  }

  /** The run no longer holds or waits for a slot. */
  async releaseSlot(runId: string): Promise<void> {
    await this.redis.multi().zrem(this.#pendingKey, runId).zrem(this.#heldKey, runId).exec();
  }

  /** Move the oldest waiting runs into free slots; returns the runs promoted. */
  async promoteHeld(cap: number, now = Date.now()): Promise<string[]> {
    return this.#runIds((await this.redis.eval(PROMOTE, 2, this.#pendingKey, this.#heldKey, String(cap), String(now))) as string[], this.#pendingKey);
  }

  /** Runs holding a slot. */
  async pendingRuns(): Promise<string[]> {
    return this.#runIds(await this.redis.zrange(this.#pendingKey, '0', '-1'), this.#pendingKey);
  }

  /** Runs waiting for a slot, oldest first. */
  async heldRuns(): Promise<string[]> {
    return this.#runIds(await this.redis.zrange(this.#heldKey, '0', '-1'), this.#heldKey);
  }

  async #consume(tokenKey: string, runId: string, presented: Tombstone, others: Tombstone): Promise<ApprovalBinding | null> {
    const keys = tokenKey ? [this.#indexKey(runId), tokenKey] : [this.#indexKey(runId)];
    const raw = (await this.redis.eval(CONSUME, keys.length, ...keys, this.#seal('tombstone', presented), this.#seal('tombstone', others), String(TOMBSTONE_MS), this.#tokenKey(''))) as string | null;
    if (raw === null) return null;
    const key = tokenKey || this.#indexKey(runId);
    const opened = this.#open('binding', bindingEnvelope, raw, key);
    if (opened === null || 'foreign' in opened) return null;
    if (opened.body.runId !== runId) {
      reportQuarantine(this.log, new RedisInputError('approval binding', key, ['sealed for another run than its index']));
      return null;
    }
    return opened.body;
  }
}
