// A Redis writer who is not the runner: full read/write access to the runner's keys (a leaked password, a
// wrong bind, a neighbour on the host), and nothing else. It knows the key layout and BullMQ, and it can
// read everything the runner wrote there, but it holds no file of the runner's (no seal key, no job dir).
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { REDIS_URL } from './harness.ts';

export class RedisAttacker {
  readonly redis = new Redis(REDIS_URL);
  readonly #queues = new Map<string, Queue>();

  constructor(readonly prefix: string) {}

  key(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  /** The stored document of a run, as the attacker reads it. */
  async runDoc(id: string): Promise<Record<string, unknown>> {
    return JSON.parse((await this.redis.hget(this.key('run', id), 'doc')) ?? '{}') as Record<string, unknown>;
  }

  /** Rewrite a run record in place: the document, and the state/version fields beside it. */
  async rewriteRun(id: string, change: (doc: Record<string, unknown>) => Record<string, unknown>, fields: { state?: string; version?: string } = {}): Promise<void> {
    const doc = change(await this.runDoc(id));
    await this.redis.hset(this.key('run', id), 'doc', JSON.stringify(doc), ...(fields.state ? ['state', fields.state] : []), ...(fields.version ? ['version', fields.version] : []));
  }

  /** Plant a run record under any key name, with any document. */
  async plantRun(keyId: string, doc: Record<string, unknown>, state = 'planning'): Promise<void> {
    await this.redis.hset(this.key('run', keyId), 'state', state, 'version', '1', 'doc', JSON.stringify(doc));
    await this.redis.zadd(this.key('runs'), Date.now(), keyId);
  }

  /** Add a job to one of the runner's BullMQ queues, with any name, id and payload. */
  async injectJob(queue: string, name: string, data: unknown, jobId: string): Promise<void> {
    let q = this.#queues.get(queue);
    if (!q) this.#queues.set(queue, (q = new Queue(queue, { connection: this.redis, prefix: `${this.prefix}:bull` })));
    await q.add(name, data, { jobId, attempts: 1 });
  }

  /** The state and failure reason of a job, once a worker has taken it. */
  async jobOutcome(queue: string, jobId: string): Promise<{ state: string; failedReason?: string } | null> {
    const q = this.#queues.get(queue) ?? new Queue(queue, { connection: this.redis, prefix: `${this.prefix}:bull` });
    this.#queues.set(queue, q);
    // State first, then the job: a job read before a worker fails it has no failedReason yet.
    const state = await q.getJobState(jobId);
    if (state === 'unknown') return null;
    const job = await q.getJob(jobId);
    return { state, failedReason: job?.failedReason };
  }

  /** Put any value under the approval key of a token hash (a forged binding). */
  async forgeApproval(tokenHash: string, value: unknown, runId: string): Promise<void> {
    const key = this.key('approval', tokenHash);
    await this.redis.set(key, JSON.stringify(value), 'PX', 3_600_000);
    await this.redis.sadd(this.key('approvals-of', runId), key);
  }

  /** The raw stored approvals of a run (sealed envelopes), as the attacker reads them. */
  async approvalsOf(runId: string): Promise<Array<{ key: string; value: Record<string, unknown> }>> {
    const keys = await this.redis.smembers(this.key('approvals-of', runId));
    const out: Array<{ key: string; value: Record<string, unknown> }> = [];
    for (const key of keys) {
      const raw = await this.redis.get(key);
      if (raw) out.push({ key, value: JSON.parse(raw) as Record<string, unknown> });
    }
    return out;
  }

  async forgeTombstone(tokenHash: string, value: unknown): Promise<void> {
    await this.redis.set(this.key('approval', tokenHash, 'spent'), JSON.stringify(value), 'PX', 3_600_000);
  }

  /** Move a reply topic's resume point (the handled-at watermark) anywhere, and forget which replies were handled. */
  async rewindReplies(topic: string, to: string): Promise<void> {
    await this.redis.set(this.key('ntfy', 'handled-at', topic), to);
    await this.redis.set(this.key('ntfy', 'cursor', topic), to);
    const done = await this.redis.keys(this.key('ntfy', 'reply', topic, '*'));
    if (done.length > 0) await this.redis.del(...done);
  }

  async deleteKeys(pattern: string): Promise<number> {
    const keys = await this.redis.keys(this.key(pattern));
    return keys.length > 0 ? this.redis.del(...keys) : 0;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((q) => q.close()));
    this.redis.disconnect();
  }
}
