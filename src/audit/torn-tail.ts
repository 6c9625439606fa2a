// After a crash mid-write, the chain file may end in a partial line. Those bytes were never acknowledged
// (the fsync had not returned), so they are moved aside into a sibling file, kept as evidence, and the
// chain continues from the last complete record.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { parseRecord } from './verify.ts';

const CHUNK = 64 * 1024;

export interface TornTail {
  movedTo: string;
  bytes: number;
  sha256: string;
  /** The torn bytes happen to hold a whole record (only its newline is missing); it was still never acknowledged. */
  wholeRecordSeq: number | null;
}

/** If `file` does not end in a newline, move the bytes after the last newline aside and cut them off. */
export async function recoverTornTail(file: string): Promise<TornTail | null> {
  const handle = await open(file, 'r+').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (!handle) return null;
  try {
    const { size } = await handle.stat();
    if (size === 0) return null;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    if (last[0] === 0x0a) return null;
    const keep = await endOfLastLine(handle, size);
    const torn = Buffer.alloc(size - keep);
    await handle.read(torn, 0, torn.length, keep);
    const movedTo = `${file}.torn-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    // The evidence is durable before the chain loses it.
    await writeDurably(movedTo, torn);
    await handle.truncate(keep);
    await handle.sync();
    await syncDir(path.dirname(file));
    const parsed = parseRecord(torn.toString('utf8'));
    return {
      movedTo,
      bytes: torn.length,
      sha256: createHash('sha256').update(torn).digest('hex'),
      wholeRecordSeq: typeof parsed === 'string' ? null : parsed.seq,
    };
  } finally {
    await handle.close();
  }
}

/** The offset just past the last newline before `size` (0 if there is none), reading backwards in chunks. */
export async function endOfLastLine(handle: FileHandle, size: number): Promise<number> {
  let end = size;
  const buf = Buffer.alloc(CHUNK);
  while (end > 0) {
    const start = Math.max(0, end - CHUNK);
    const { bytesRead } = await handle.read(buf, 0, end - start, start);
    const nl = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (nl !== -1) return start + nl + 1;
    end = start;
  }
  return 0;
}

async function writeDurably(file: string, bytes: Buffer): Promise<void> {
  const out = await open(file, 'wx', 0o600);
  try {
    await out.writeFile(bytes);
    await out.sync();
  } finally {
    await out.close();
  }
}

/** fsync a directory, so a created or renamed entry in it survives a power cut. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
