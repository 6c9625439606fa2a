// One `git cat-file --batch` process for a whole export: the commit (its type, tree and identity) and then
// every blob, asked for one after another on its stdin, instead of a git process per question. Objects
// come back raw (`<id> <type> <size>\n<bytes>\n`), so git never applies a filter, attribute or hook.
import type { ChildProcess } from 'node:child_process';
import { spawnGit } from './git-command.ts';

export interface CatFileObject {
  type: string;
  /** The object's real size; `content` holds at most the `keep` bytes asked for. */
  size: number;
  content: Buffer;
}

export interface CatFile {
  /** The object named `id` (a full object id), keeping at most `keep` bytes of it; null when the mirror lacks it. */
  read(id: string, keep: number): Promise<CatFileObject | null>;
  /** Ask for several at once (git answers in order); each keeps at most its own `keep` bytes. */
  readMany(requests: Array<{ id: string; keep: number }>): Promise<Array<CatFileObject | null>>;
  close(): void;
}

/** Why a batch session ended early: its deadline, or git itself. */
export class CatFileError extends Error {
  constructor(message: string, readonly timedOut: boolean) {
    super(message);
  }
}

const MAX_HEADER = 256;

interface Pending {
  keep: number;
  resolve(o: CatFileObject | null): void;
  reject(e: Error): void;
}

/** Start `git cat-file --batch` in the mirror; it ends at `close()`, at `deadlineMs` (epoch ms), or when git fails. */
export function openCatFile(mirror: string, deadlineMs: number): CatFile {
  const child: ChildProcess = spawnGit({ args: ['cat-file', '--batch'], cwd: mirror, gitDir: mirror }, 'pipe');
  const pending: Pending[] = [];
  let failure: CatFileError | null = null;
  let stderr = '';
  // The object being read: its header once parsed, what is kept, and how many bytes (with the final LF) remain.
  let header = Buffer.alloc(0);
  let current: { type: string; size: number; kept: Buffer[]; keptBytes: number; remaining: number; lastByte: number } | null = null;

  const fail = (err: CatFileError): void => {
    failure ??= err;
    for (const p of pending.splice(0)) p.reject(failure);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const timer = setTimeout(() => fail(new CatFileError('git cat-file timed out', true)), Math.max(1, deadlineMs - Date.now()));

  const feed = (chunk: Buffer): void => {
    let offset = 0;
    while (offset < chunk.length && !failure) {
      if (!current) {
        const newline = chunk.indexOf(0x0a, offset);
        header = Buffer.concat([header, chunk.subarray(offset, newline === -1 ? chunk.length : newline)]);
        if (header.length > MAX_HEADER) return fail(new CatFileError('git cat-file sent a malformed header', false));
        if (newline === -1) return;
        offset = newline + 1;
        const text = header.toString('latin1');
        header = Buffer.alloc(0);
        const p = pending[0];
        if (!p) return fail(new CatFileError(`git cat-file answered what nobody asked: ${JSON.stringify(text.slice(0, 80))}`, false));
        const m = /^[0-9a-f]{40,64} (\S+) (\d+)$/.exec(text);
        if (!m) {
          if (!/ missing$/.test(text)) return fail(new CatFileError(`git cat-file answered ${JSON.stringify(text.slice(0, 80))}`, false));
          pending.shift()!.resolve(null);
          continue;
        }
        current = { type: m[1]!, size: Number(m[2]), kept: [], keptBytes: 0, remaining: Number(m[2]) + 1, lastByte: -1 };
        continue;
      }
      const take = Math.min(current.remaining, chunk.length - offset);
      const piece = chunk.subarray(offset, offset + take);
      const room = Math.min(pending[0]!.keep, current.size) - current.keptBytes;
      if (room > 0) {
        const kept = piece.subarray(0, Math.min(room, piece.length));
        current.kept.push(kept);
        current.keptBytes += kept.length;
      }
      current.remaining -= take;
      current.lastByte = piece[piece.length - 1] ?? current.lastByte;
      offset += take;
      if (current.remaining === 0) {
        if (current.lastByte !== 0x0a) return fail(new CatFileError('git cat-file output is not terminated as expected', false));
        const { type, size, kept } = current;
        current = null;
        pending.shift()!.resolve({ type, size, content: Buffer.concat(kept) });
      }
    }
  };

  child.stdout!.on('data', feed);
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-2000)));
  child.stdin!.on('error', () => undefined);
  child.once('error', (err) => fail(new CatFileError(`git cat-file could not be started: ${err.message}`, false)));
  child.once('close', (code) => {
    clearTimeout(timer);
    if (pending.length > 0) fail(new CatFileError(`git cat-file exited (${code}) before answering: ${stderr.trim()}`, false));
  });

  const ask = (id: string, keep: number): Promise<CatFileObject | null> => {
    if (failure) return Promise.reject(failure);
    if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(id)) return Promise.reject(new CatFileError(`not an object id: ${JSON.stringify(id.slice(0, 80))}`, false));
    return new Promise((resolve, reject) => {
      pending.push({ keep, resolve, reject });
      child.stdin!.write(`${id}\n`);
    });
  };

  return {
    read: ask,
    readMany: (requests) => Promise.all(requests.map((r) => ask(r.id, r.keep))),
    close() {
      clearTimeout(timer);
      child.stdin!.end();
      if (pending.length > 0) fail(new CatFileError('git cat-file closed with questions open', false));
    },
  };
}
