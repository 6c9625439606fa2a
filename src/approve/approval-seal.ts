// Approval records and tombstones live in Redis, which other writers can reach; the runner seals each
// one with an HMAC under a key that never leaves its data directory. A record that does not verify was
// not written by this runner (or its CLI, which shares the data dir) and is quarantined, never consumed.
// Without the seal, a Redis writer could bind a nonce it has seen to another run and replay the reply.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { runIdSchema } from '../run/run-schema.ts';
import { canonicalJson } from '../lib/canonical-json.ts';
import { AirlockError } from '../errors.ts';
import type { Scrubber } from '../log/scrub.ts';
import { TIERS } from '../policy/policy.ts';
import { parseRedisJson, RedisInputError, reportQuarantine, type QuarantineLog } from '../lib/redis-input.ts';

/** Why a token can no longer be used. */
export interface Tombstone {
  runId: string;
  reason: string;
}

/** What is stored: the runner that sealed, the HMAC, and the record. */
export interface Sealed<B> {
  v: 1;
  runner: string;
  mac: string;
  body: B;
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const bindingSchema = z.strictObject({
  runId: runIdSchema,
  repo: z.string().max(100),
  pr: z.number().int().nonnegative().nullable(),
  sha: z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/),
  workspace: z.string().max(100),
  planSha256: hex64,
  tier: z.enum(TIERS),
  channel: z.string().max(40),
  approver: z.string().max(100).nullable(),
  phase: z.enum(['approve', 'confirm']),
  expiresAt: z.iso.datetime(),
  tokenHash: hex64,
  textSha256: hex64,
});
const envelope = <T extends z.ZodType>(body: T) => z.strictObject({ v: z.literal(1), runner: z.string().max(64), mac: hex64, body });
export const bindingEnvelope = envelope(bindingSchema);
export const tombstoneEnvelope = envelope(z.strictObject({ runId: runIdSchema, reason: z.string().max(300) }));

export interface Sealer {
  /** The runner whose key seals: records of other runners sharing the prefix are theirs to verify. */
  readonly runnerId: string;
  mac(kind: string, value: unknown): string;
  verify(kind: string, value: unknown, mac: string): boolean;
}

/** A sealer over a 32-byte key. */
export function createSealer(key: Buffer, runnerId: string): Sealer {
  const mac = (kind: string, value: unknown) => createHmac('sha256', key).update(`${kind}\n${runnerId}\n${canonicalJson(value)}`).digest('hex');
  return {
    runnerId,
    mac,
    verify(kind, value, presented) {
      const expected = Buffer.from(mac(kind, value), 'hex');
      const given = Buffer.from(presented, 'hex');
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}

/** The runner's sealing key from `<dataDir>/keys/approval-seal.key` (0600), made on first use. */
export async function loadSealer(dataDir: string, runnerId: string, scrubber: Scrubber): Promise<Sealer> {
  const dir = path.join(dataDir, 'keys');
  const file = path.join(dir, 'approval-seal.key');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let hex = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? null : Promise.reject(err)));
  if (hex === null) {
    // Written whole under a private name, then linked: a runner and its CLI starting together agree on one key.
    const temp = `${file}.${randomBytes(6).toString('hex')}`;
    await writeFile(temp, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    await link(temp, file).catch((err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? undefined : Promise.reject(err)));
    await rm(temp, { force: true });
    hex = await readFile(file, 'utf8');
  }
  hex = hex.trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new AirlockError('airlock:seal-key', `${file} does not hold a 64-hex-digit key`, { hint: `Move it aside; the runner makes a new one (pending approvals are then refused and expire).` });
  }
  scrubber.add(hex);
  return createSealer(Buffer.from(hex, 'hex'), runnerId);
}

/** The stored form of a record: sealed by this runner. */
export function sealRecord(sealer: Sealer, kind: string, body: unknown): string {
  return JSON.stringify({ v: 1, runner: sealer.runnerId, mac: sealer.mac(kind, body), body });
}

/** Parse and verify a stored record: its body, the name of the other runner that sealed it, or null (quarantined). */
export function openSealed<B>(sealer: Sealer, kind: string, schema: z.ZodType<Sealed<B>>, raw: string, where: { key: string; log?: QuarantineLog }): { body: B } | { foreign: string } | null {
  const sealed = parseRedisJson(schema, raw, { kind: `approval ${kind}`, key: where.key, log: where.log });
  if (sealed === null) return null;
  if (sealed.runner !== sealer.runnerId) return { foreign: sealed.runner };
  if (!sealer.verify(kind, sealed.body, sealed.mac)) {
    reportQuarantine(where.log, new RedisInputError(`approval ${kind}`, where.key, ['the seal does not verify: this runner did not write it']));
    return null;
  }
  return { body: sealed.body };
}
