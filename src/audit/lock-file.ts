// One writer per chain file: a `<file>.lock` holding `pid@host`, created exclusively. A lock left by a
// dead process on this host is taken over; anything else makes the second writer wait or give up.
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { AuditLockedError } from './errors.ts';

const me = () => `${process.pid}@${hostname()}`;

/** Take the lock of `file`, waiting up to `waitMs` for another live writer to let go. */
export async function acquireChainLock(file: string, waitMs: number): Promise<void> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (await createWithContent(lock, me())) return;
    const holder = (await readFile(lock, 'utf8').catch(() => '')).trim();
    if (isStaleHolder(holder)) {
      await takeOverStale(lock, holder);
      continue;
    }
    if (Date.now() >= deadline) throw new AuditLockedError(file, holder || 'unknown');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Release the lock of `file`, only if this process holds it. */
export async function releaseChainLock(file: string): Promise<void> {
  const lock = `${file}.lock`;
  const holder = (await readFile(lock, 'utf8').catch(() => '')).trim();
  if (holder === me()) await rm(lock, { force: true });
}

/**
 * Remove a stale lock without ever removing a live one: the lock is renamed away atomically first, so two
 * processes that both saw it stale cannot delete the fresh lock the faster one has just created.
 */
async function takeOverStale(lock: string, staleHolder: string): Promise<void> {
  const aside = `${lock}.stale-${randomBytes(6).toString('hex')}`;
  try {
    await rename(lock, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = (await readFile(aside, 'utf8').catch(() => '')).trim();
  // Someone replaced the stale lock between our read and our rename: give theirs back.
  if (moved !== staleHolder) await link(aside, lock).catch(() => undefined);
  await rm(aside, { force: true });
}

/** Create `lock` already holding `content` (write a temp file, hard-link it): never seen empty by others. */
async function createWithContent(lock: string, content: string): Promise<boolean> {
  const temp = `${lock}.new-${randomBytes(6).toString('hex')}`;
  await writeFile(temp, content, { flag: 'wx', mode: 0o600 });
  try {
    await link(temp, lock);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  } finally {
    await rm(temp, { force: true });
  }
}

function isStaleHolder(holder: string): boolean {
  const m = /^(\d+)@(.+)$/.exec(holder);
  if (!m || m[2] !== hostname()) return holder === '';
  try {
    process.kill(Number(m[1]), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
