// The audit file: one JSON record a line, chained by sha256, fsynced before an append is acknowledged.
// One writer per file, enforced by a lock file, so a chain is never interleaved.
import { constants } from 'node:fs';
import { mkdir, open, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { AirlockError } from '../errors.ts';
import type { Scrubber } from '../log/scrub.ts';
import { GENESIS, RUNNER_ACTOR, sealRecord, type AuditInput, type AuditRecord } from './audit.ts';

const TAIL_BYTES = 256 * 1024;

export class AuditLockedError extends AirlockError {
  constructor(file: string, holder: string) {
    super('airlock:audit-locked', `${file} is being written by another process (${holder})`, {
      hint: 'Two runners on one host need different `runner.id` values; if no other runner is running, delete the .lock file.',
    });
  }
}

export interface AuditLogOptions {
  scrubber: Scrubber;
  /** How long to wait for another writer's lock before giving up (the CLI waits; the runner does not). */
  lockWaitMs?: number;
}

export class AuditLog {
  #head = { seq: 0, hash: GENESIS };
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    private readonly scrubber: Scrubber,
  ) {}

  /** Open (creating 0600) and lock a chain file; a torn last line from a crash is moved aside and recorded. */
  static async open(file: string, options: AuditLogOptions): Promise<AuditLog> {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await acquireLock(file, options.lockWaitMs ?? 0);
    try {
      const torn = await recoverTornTail(file);
      const handle = await open(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
      const log = new AuditLog(file, handle, options.scrubber);
      log.#head = await readHead(file);
      if (torn) {
        await log.append({ type: 'audit.recovered', run: null, actor: RUNNER_ACTOR, detail: { movedTo: path.basename(torn.movedTo), bytes: torn.bytes } });
      }
      return log;
    } catch (err) {
      await rm(`${file}.lock`, { force: true });
      throw err;
    }
  }

  get head(): { seq: number; hash: string } {
    return { ...this.#head };
  }

  /** Append one record; resolves only after the bytes are on disk (fsync). Records pass through the scrubber. */
  append(input: AuditInput): Promise<AuditRecord> {
    const write = this.#queue.then(async () => {
      if (this.#closed) throw new AirlockError('airlock:audit-closed', `audit log ${this.file} is closed`);
      const record = sealRecord(this.scrubber.scrub(input), this.#head);
      await this.handle.write(`${JSON.stringify(record)}\n`);
      await this.handle.sync();
      this.#head = { seq: record.seq, hash: record.hash };
      return record;
    });
    this.#queue = write.catch(() => undefined);
    return write;
  }

  async close(): Promise<void> {
    await this.#queue;
    if (this.#closed) return;
    this.#closed = true;
    await this.handle.close();
    await rm(`${this.file}.lock`, { force: true });
  }
}

async function acquireLock(file: string, waitMs: number): Promise<void> {
  const lock = `${file}.lock`;
  const me = `${process.pid}@${hostname()}`;
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await writeFile(lock, me, { flag: 'wx', mode: 0o600 });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = (await readFile(lock, 'utf8').catch(() => '')).trim();
    if (isStaleLock(holder)) {
      await rm(lock, { force: true });
      continue;
    }
    if (Date.now() >= deadline) throw new AuditLockedError(file, holder || 'unknown');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function isStaleLock(holder: string): boolean {
  const m = /^(\d+)@(.+)$/.exec(holder);
  if (!m || m[2] !== hostname()) return holder === '';
  try {
    process.kill(Number(m[1]), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** If the file does not end in a newline, the bytes after the last newline are a torn write. */
async function recoverTornTail(file: string): Promise<{ movedTo: string; bytes: number } | null> {
  const handle = await open(file, 'r+').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (!handle) return null;
  try {
    const { size } = await handle.stat();
    if (size === 0) return null;
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    await handle.read(buf, 0, buf.length, start);
    if (buf[buf.length - 1] === 0x0a) return null;
    const lastNewline = buf.lastIndexOf(0x0a);
    const keep = lastNewline === -1 ? start : start + lastNewline + 1;
    const torn = buf.subarray(keep - start);
    const movedTo = `${file}.torn-${Date.now()}`;
    await writeFile(movedTo, torn, { mode: 0o600 });
    await handle.truncate(keep);
    await handle.sync();
    return { movedTo, bytes: torn.length };
  } finally {
    await handle.close();
  }
}

async function readHead(file: string): Promise<{ seq: number; hash: string }> {
  const text = await readTail(file);
  const lines = text.split('\n').filter((l) => l.length > 0);
  const last = lines.at(-1);
  if (!last) return { seq: 0, hash: GENESIS };
  try {
    const record = JSON.parse(last) as AuditRecord;
    if (typeof record.seq === 'number' && typeof record.hash === 'string') return { seq: record.seq, hash: record.hash };
  } catch {
    /* reported below */
  }
  throw new AirlockError('airlock:audit-corrupt', `the last record of ${file} cannot be read`, {
    hint: `Run \`airlock audit verify --file ${file}\` to find the damage; do not edit the file by hand.`,
  });
}

async function readTail(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    await handle.read(buf, 0, buf.length, start);
    return buf.toString('utf8');
  } finally {
    await handle.close();
  }
}

