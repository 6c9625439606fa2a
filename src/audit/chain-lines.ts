// Reading a chain file line by line as bytes, so offsets are exact and a last line without its newline
// (a torn write, or a write in progress) is told apart from a complete one.
import { createReadStream } from 'node:fs';

export interface ChainLine {
  text: string;
  /** 1-based line number in the file. */
  lineNo: number;
  /** Byte offset of the line's first byte. */
  offset: number;
  /** False for a last line with no newline after it. */
  terminated: boolean;
  /** Byte offset just past the line (and its newline). */
  next: number;
}

/** The lines of `file` from byte `start` (a line start) to `end`, in order. A missing file has none. */
export async function* readChainLines(file: string, options: { start?: number; end?: number } = {}): AsyncGenerator<ChainLine> {
  const start = options.start ?? 0;
  if (options.end !== undefined && options.end <= start) return;
  const stream = createReadStream(file, { highWaterMark: 1 << 16, start, ...(options.end !== undefined ? { end: options.end - 1 } : {}) });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let offset = start;
  let lineNo = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let from = 0;
      for (let nl = chunk.indexOf(0x0a, from); nl !== -1; nl = chunk.indexOf(0x0a, from)) {
        const piece = chunk.subarray(from, nl);
        const bytes = pendingBytes === 0 ? piece : Buffer.concat([...pending, piece]);
        yield { text: bytes.toString('utf8'), lineNo: ++lineNo, offset, terminated: true, next: offset + bytes.length + 1 };
        offset += bytes.length + 1;
        pending = [];
        pendingBytes = 0;
        from = nl + 1;
      }
      if (from < chunk.length) {
        pending.push(chunk.subarray(from));
        pendingBytes += chunk.length - from;
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (pendingBytes > 0) yield { text: Buffer.concat(pending).toString('utf8'), lineNo: ++lineNo, offset, terminated: false, next: offset + pendingBytes };
}
