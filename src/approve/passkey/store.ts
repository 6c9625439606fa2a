// The registered passkeys of a runner: `<dataDir>/passkeys.json` (0600), written by `airlock passkey
// add|remove` and by the runner when a counter moves. Rewritten whole under a fresh name and renamed into
// place, so a reader sees the old file or the new one. Public keys only: nothing in it is a secret.
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { PasskeyError } from './errors.ts';
import type { RegisteredPasskey } from './verify.ts';

const b64url = z.string().regex(/^[A-Za-z0-9_-]+$/);
const storeSchema = z.strictObject({
  v: z.literal(1),
  credentials: z.array(
    z.strictObject({
      approver: z.string().min(1),
      credentialId: b64url,
      publicKey: b64url,
      counter: z.number().int().nonnegative(),
      rpId: z.string().min(1),
      origin: z.string().min(1),
      addedAt: z.string(),
    }),
  ),
});

export function passkeyStoreFile(dataDir: string): string {
  return path.join(dataDir, 'passkeys.json');
}

export class PasskeyStore {
  constructor(readonly file: string) {}

  /** Every registered credential; none when the file does not exist yet. */
  async list(): Promise<RegisteredPasskey[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new PasskeyError('store', `cannot read ${this.file}: ${(err as Error).message}`, err);
    }
    const parsed = storeSchema.safeParse((() => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return null;
      }
    })());
    if (!parsed.success) throw new PasskeyError('store', `${this.file} is not a passkey store: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data.credentials;
  }

  async find(credentialId: string): Promise<RegisteredPasskey | null> {
    return (await this.list()).find((c) => c.credentialId === credentialId) ?? null;
  }

  async add(credential: RegisteredPasskey): Promise<void> {
    const all = await this.list();
    if (all.some((c) => c.credentialId === credential.credentialId)) throw new PasskeyError('registration', `credential ${credential.credentialId.slice(0, 16)}… is already registered`);
    await this.write([...all, credential]);
  }

  /** Remove one credential of an approver; returns it, or null when there is none. */
  async remove(approver: string, credentialId: string): Promise<RegisteredPasskey | null> {
    const all = await this.list();
    const gone = all.find((c) => c.approver === approver && c.credentialId === credentialId) ?? null;
    if (gone) await this.write(all.filter((c) => c !== gone));
    return gone;
  }

  /** Record the counter of a verified assertion; it only ever goes up. */
  async advanceCounter(credentialId: string, counter: number): Promise<void> {
    const all = await this.list();
    const c = all.find((x) => x.credentialId === credentialId);
    if (!c || counter <= c.counter) return;
    await this.write(all.map((x) => (x === c ? { ...x, counter } : x)));
  }

  private async write(credentials: RegisteredPasskey[]): Promise<void> {
    const temp = path.join(path.dirname(this.file), `.passkeys-${randomBytes(8).toString('hex')}`);
    try {
      await writeFile(temp, `${JSON.stringify({ v: 1, credentials }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      await rename(temp, this.file);
    } catch (err) {
      await rm(temp, { force: true });
      throw new PasskeyError('store', `cannot write ${this.file}: ${(err as Error).message}`, err);
    }
  }
}
