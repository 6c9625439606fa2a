// The audit file: one JSON record a line, chained by sha256, fsynced before an append is acknowledged.
// One writer per file, enforced by a lock file, so a chain is never interleaved. Appends that arrive
// while a write is on its way to disk are sealed together and share the next fsync (group commit);
// none of them resolves before that fsync has returned.
import { constants } from 'node:fs';
import { chmod, mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Actor } from '../run/run.ts';
import type { Scrubber } from '../log/scrub.ts';
import { GENESIS, RUNNER_ACTOR, sealRecord, toJsonData, type AuditInput, type AuditRecord, type ChainHead } from './audit.ts';
import { AuditClosedError, AuditCorruptError, AuditWriteFailedError } from './errors.ts';
import { acquireChainLock, releaseChainLock } from './lock-file.ts';
import { endOfLastLine, recoverTornTail, syncDir } from './torn-tail.ts';
import { parseRecord } from './verify.ts';

// A batch is one write() and one fsync; cap it so one slow batch cannot grow without bound.
const MAX_BATCH_RECORDS = 512;

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
    await acquireChainLock(file, options.lockWaitMs ?? 0);
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
    if (this.#failed) return Promise.reject(this.#failed);
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
        for (const p of [...batch, ...this.#pending.splice(0)]) p.reject(this.#failed);
        break;
      }
      this.#head = head;
      this.#bytes += bytes.length;
      batch.forEach((p, i) => p.resolve(records[i]!));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#flushing) await this.#flushing;
    await this.handle.close();
    await releaseChainLock(this.file);
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
