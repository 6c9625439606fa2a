// The audit file: one JSON record a line, chained by sha256, fsynced before an append is acknowledged.
// One writer per file, enforced by a lock file, so a chain is never interleaved. Appends that arrive
// while a write is on its way to disk are sealed together and share the next fsync (group commit);
// none of them resolves before that fsync has returned.
import { constants } from 'node:fs';
import { access, chmod, mkdir, open, stat, statfs, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Actor } from '../run/run.ts';
import type { Scrubber } from '../log/scrub.ts';
import { GENESIS, RUNNER_ACTOR, sealRecord, toJsonData, type AuditInput, type AuditRecord, type ChainHead } from './audit.ts';
import { AuditClosedError, AuditCorruptError, AuditUnwritableError, AuditWriteFailedError } from './errors.ts';
import { acquireChainLock, releaseChainLock } from './lock-file.ts';
import { endOfLastLine, recoverTornTail, syncDir } from './torn-tail.ts';
import { parseRecord } from './verify.ts';

// A batch is one write() and one fsync; cap it so one slow batch cannot grow without bound.
const MAX_BATCH_RECORDS = 512;
/** Below this much free space the chain is treated as full: decisions stop before a write fails. */
export const AUDIT_MIN_FREE_BYTES = 1024 * 1024;

export interface AuditLogOptions {
  scrubber: Scrubber;
  /** How long to wait for another writer's lock before giving up (the CLI waits; the runner does not). */
  lockWaitMs?: number;
  /** Seal and fsync appends that queue up during a write together (default). Off: one fsync per record. */
  groupCommit?: boolean;
  /** `runner.id`: records by RUNNER_ACTOR name this runner (default `airlock`, the default runner id). */
  runnerId?: string;
}

interface Pending {
  input: AuditInput;
  resolve(record: AuditRecord): void;
  reject(err: Error): void;
}

export class AuditLog {
  #head: ChainHead = { seq: 0, hash: GENESIS };
  #bytes = 0;
  #pending: Pending[] = [];
  #flushing: Promise<void> | null = null;
  #failed: Error | null = null;
  #failedAt: string | null = null;
  /** Appends refused since the failure, the unacknowledged batch first (heal() records them). */
  #lost: Array<{ type: string; run: string | null }> = [];
  #closed = false;

  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    private readonly scrubber: Scrubber,
    private readonly groupCommit: boolean,
    private readonly runnerActor: Actor,
  ) {}

  /** Open (creating 0600) and lock a chain file; a torn last line from a crash is moved aside and recorded. */
  static async open(file: string, options: AuditLogOptions): Promise<AuditLog> {
    const dir = path.dirname(file);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await acquireChainLock(file, options.lockWaitMs ?? 0).catch(async (err: unknown) => {
      // A full or read-only disk says so by name, with what to do, rather than as a bare errno.
      if (!['ENOSPC', 'EROFS', 'EDQUOT'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
      throw new AuditUnwritableError(file, (await spaceProblem(dir)) ?? (err as Error).message);
    });
    try {
      const torn = await recoverTornTail(file);
      const existed = await stat(file).then(() => true, () => false);
      const handle = await open(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
      // The mode given to open() only applies to a new file; an old one may have been loosened.
      await chmod(file, 0o600);
      if (!existed) await syncDir(dir);
      const runnerActor: Actor = options.runnerId === undefined ? RUNNER_ACTOR : { kind: 'runner', id: options.runnerId };
      const log = new AuditLog(file, handle, options.scrubber, options.groupCommit ?? true, runnerActor);
      log.#bytes = (await handle.stat()).size;
      log.#head = await readHead(file, log.#bytes);
      if (torn) {
        await log.append({
          type: 'audit.recovered',
          run: null,
          actor: RUNNER_ACTOR,
          detail: { movedTo: path.basename(torn.movedTo), bytes: torn.bytes, sha256: torn.sha256, wholeRecordSeq: torn.wholeRecordSeq, continuesFrom: log.#head.seq },
        });
      }
      return log;
    } catch (err) {
      await releaseChainLock(file);
      throw err;
    }
  }

  /** The last acknowledged (fsynced) record. */
  get head(): ChainHead {
    return { ...this.#head };
  }

  /** The acknowledged size of the file: every byte before it belongs to a fsynced record. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Append one record; resolves only after the bytes are on disk (fsync). Records pass through the scrubber. */
  append(input: AuditInput): Promise<AuditRecord> {
    if (this.#closed) return Promise.reject(new AuditClosedError(this.file));
    if (this.#failed) {
      if (this.#lost.length < 1000) this.#lost.push({ type: input.type, run: input.run });
      return Promise.reject(this.#failed);
    }
    let clean: AuditInput;
    try {
      clean = scrubInput(this.scrubber, isRunnerActor(input.actor) ? { ...input, actor: this.runnerActor } : input);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return new Promise<AuditRecord>((resolve, reject) => {
      this.#pending.push({ input: clean, resolve, reject });
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#flushing || this.#pending.length === 0) return;
    this.#flushing = this.#flush().finally(() => {
      this.#flushing = null;
      this.#kick();
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.groupCommit ? MAX_BATCH_RECORDS : 1);
      let head = this.#head;
      const records = batch.map((p) => {
        const record = sealRecord(p.input, head);
        head = { seq: record.seq, hash: record.hash };
        return record;
      });
      const bytes = Buffer.from(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      try {
        await writeAll(this.handle, bytes);
        await this.handle.sync();
      } catch (err) {
        // After a failed write or fsync the file's end is unknown: acknowledge nothing more. A restart
        // moves any partial line aside and continues from the last complete record.
        this.#failed = new AuditWriteFailedError(this.file, err);
        this.#failedAt = new Date().toISOString();
        const rejected = [...batch, ...this.#pending.splice(0)];
        this.#lost = rejected.map((p) => ({ type: p.input.type, run: p.input.run }));
        for (const p of rejected) p.reject(this.#failed);
        break;
      }
      this.#head = head;
      this.#bytes += bytes.length;
      batch.forEach((p, i) => p.resolve(records[i]!));
    }
  }

  /** The failure that stopped appends, or null while they are accepted. */
  get failure(): Error | null {
    return this.#failed;
  }

  /** Why a record cannot be appended now (a failed write, a full or read-only disk), or null when it can. */
  async writableProblem(): Promise<string | null> {
    if (this.#closed) return 'the audit log is closed';
    if (this.#failed) return this.#failed.message;
    return spaceProblem(path.dirname(this.file));
  }

  /** Throw AuditUnwritableError unless a record can be appended now (before anything is decided). */
  async assertWritable(): Promise<void> {
    const problem = await this.writableProblem();
    if (problem) throw new AuditUnwritableError(this.file, problem);
  }

  /**
   * After a failed write, once the disk can take records again: cut the file back to its acknowledged
   * size (the bytes after it were never acknowledged), check the head, and accept appends again with an
   * `audit.resumed` record naming what was refused. False while that cannot be done yet.
   */
  async heal(): Promise<boolean> {
    if (!this.#failed) return !this.#closed;
    if (this.#closed || (await spaceProblem(path.dirname(this.file)))) return false;
    const failed = this.#failed;
    try {
      await this.handle.truncate(this.#bytes);
      await this.handle.sync();
      const head = await readHead(this.file, this.#bytes);
      if (head.seq !== this.#head.seq || head.hash !== this.#head.hash) return false;
    } catch {
      return false;
    }
    this.#failed = null;
    const refused = this.#lost.splice(0);
    const failedAt = this.#failedAt;
    this.#failedAt = null;
    await this.append({
      type: 'audit.resumed',
      run: null,
      actor: RUNNER_ACTOR,
      detail: { failedAt, error: failed.message, refused: refused.slice(0, 100), refusedCount: refused.length },
    }).catch(() => undefined);
    return this.#failed === null;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#flushing) await this.#flushing;
    await this.handle.close();
    await releaseChainLock(this.file);
  }
}

/** Why `dir` cannot take audit records now: read-only, or less than AUDIT_MIN_FREE_BYTES free; null when it can. */
export async function spaceProblem(dir: string): Promise<string | null> {
  try {
    await access(dir, constants.W_OK);
    const fs = await statfs(dir);
    const free = fs.bavail * fs.bsize;
    return free < AUDIT_MIN_FREE_BYTES ? `only ${Math.floor(free / 1024)} KiB free on the audit directory's file system; at least ${AUDIT_MIN_FREE_BYTES / 1024} KiB are kept for records` : null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EROFS' ? 'the audit directory is on a read-only file system' : `the audit directory cannot be written (${code ?? (err as Error).message})`;
  }
}

/** Whether a record is by "the runner writing this chain", which the log names by its runner id. */
function isRunnerActor(actor: Actor): boolean {
  return actor.kind === RUNNER_ACTOR.kind && actor.id === RUNNER_ACTOR.id;
}

/** Secrets are removed from values and, through the serialized text, from keys too; the result is plain JSON. */
function scrubInput(scrubber: Scrubber, input: AuditInput): AuditInput {
  const deep = toJsonData(scrubber.scrub(input));
  try {
    return JSON.parse(scrubber.scrubString(JSON.stringify(deep))) as AuditInput;
  } catch {
    return deep;
  }
}

async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, null);
    done += bytesWritten;
  }
}

/** The head of a chain file: its last line must be a whole record (a torn one was moved aside before). */
async function readHead(file: string, size: number): Promise<ChainHead> {
  if (size === 0) return { seq: 0, hash: GENESIS };
  const handle = await open(file, 'r');
  let last: string;
  try {
    // The file ends in a newline here; the last line starts after the newline before that one.
    const from = await endOfLastLine(handle, size - 1);
    const buf = Buffer.alloc(size - 1 - from);
    await handle.read(buf, 0, buf.length, from);
    last = buf.toString('utf8');
  } finally {
    await handle.close();
  }
  const parsed = parseRecord(last);
  if (typeof parsed === 'string') throw new AuditCorruptError(file, parsed);
  return { seq: parsed.seq, hash: parsed.hash };
}
