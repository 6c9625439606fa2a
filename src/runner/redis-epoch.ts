// Noticing that Redis lost its data. Each runner writes an epoch key under its prefix when it finds none,
// and keeps the epoch it saw in its data dir. A Redis restarted without persistence (or flushed) comes
// back without the key: the next runner to look makes a new one, and every runner whose recorded epoch
// differs knows that the runs, approvals and queues it put there are gone (data-loss.ts acts on it).
// A data dir that has recorded no epoch for this prefix (a new runner, a new prefix) adopts the current one.
import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Redis } from 'ioredis';

const FILE = 'redis-epoch.json';
/** How long runners starting after a loss wait before their first poll, so running ones can restore their runs first. */
export const LOSS_GRACE_MS = 15_000;

export interface LossNote {
  prefix: string;
  at: string;
  was: string;
  now: string;
  restored: Record<string, number>;
  voided: number;
}

interface EpochFile {
  epochs: Record<string, { id: string; since: string }>;
  lastLoss?: LossNote;
}

export type EpochVerdict = 'same' | 'first' | 'lost';

/** Pure: what a runner concludes from the epoch it recorded and the one Redis holds now. */
export function compareEpochs(recorded: string | null, current: string): EpochVerdict {
  if (recorded === null) return 'first';
  return recorded === current ? 'same' : 'lost';
}

export const epochKey = (prefix: string) => `${prefix}:epoch`;
export const lossKey = (prefix: string) => `${prefix}:data-lost`;

/** The epoch Redis holds, made now (SET NX) when there is none; `created` says whether this call made it. */
export async function currentEpoch(redis: Redis, prefix: string, runnerId: string): Promise<{ id: string; created: boolean }> {
  const existing = await redis.get(epochKey(prefix));
  if (existing !== null) return { id: epochIdOf(existing), created: false };
  const id = randomUUID();
  const set = await redis.set(epochKey(prefix), JSON.stringify({ id, at: new Date().toISOString(), by: runnerId }), 'NX');
  if (set === 'OK') return { id, created: true };
  return { id: epochIdOf((await redis.get(epochKey(prefix))) ?? ''), created: false };
}

/** The epoch's id; a value that is not our JSON counts as an epoch of its own (it is compared, never acted on). */
export function epochIdOf(raw: string): string {
  try {
    const id = (JSON.parse(raw) as { id?: unknown }).id;
    if (typeof id === 'string') return id.slice(0, 100);
  } catch {
    // not ours
  }
  return `raw:${raw.slice(0, 100)}`;
}

async function readEpochFile(dataDir: string): Promise<EpochFile> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dataDir, FILE), 'utf8')) as Partial<EpochFile>;
    return { epochs: typeof parsed.epochs === 'object' && parsed.epochs !== null ? parsed.epochs : {}, ...(parsed.lastLoss ? { lastLoss: parsed.lastLoss } : {}) };
  } catch {
    return { epochs: {} };
  }
}

/** The epoch this data dir last saw under `prefix`, or null. */
export async function recordedEpoch(dataDir: string, prefix: string): Promise<string | null> {
  return (await readEpochFile(dataDir)).epochs[prefix]?.id ?? null;
}

/** The last loss this data dir went through, or null. */
export async function lastLoss(dataDir: string): Promise<LossNote | null> {
  return (await readEpochFile(dataDir)).lastLoss ?? null;
}

/** Remember `id` as this data dir's epoch under `prefix` (and the loss that led to it), atomically. */
export async function recordEpoch(dataDir: string, prefix: string, id: string, loss?: LossNote): Promise<void> {
  const file = await readEpochFile(dataDir);
  file.epochs[prefix] = { id, since: new Date().toISOString() };
  if (loss) file.lastLoss = loss;
  const target = path.join(dataDir, FILE);
  const tmp = `${target}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, target);
}

/** Mark a loss for runners that start soon after: they wait out the grace before their first poll. */
export async function markLoss(redis: Redis, prefix: string, graceMs = LOSS_GRACE_MS): Promise<void> {
  await redis.set(lossKey(prefix), new Date().toISOString(), 'PX', graceMs, 'NX');
}

/** How long a runner starting now should wait before its first poll (0 when no loss is recent). */
export async function lossGraceLeft(redis: Redis, prefix: string): Promise<number> {
  const ms = await redis.pttl(lossKey(prefix));
  return ms > 0 ? ms : 0;
}
