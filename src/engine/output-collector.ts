// Splits engine output into lines as it arrives and fans each line out to the progress callback,
// the job's log file and two bounded tails. Nothing here holds more than the tails in memory, so
// a plan that prints hundreds of MB costs a few KB.

import { StringDecoder } from 'node:string_decoder';
import type { Writable } from 'node:stream';

/** Characters of combined output a failure keeps; a tail this long was cut at its start. */
export const OUTPUT_TAIL = 4096;
const STDERR_TAIL = 16384;

type Source = 'stdout' | 'stderr';

export interface OutputCollector {
  push(source: Source, chunk: Buffer | string): void;
  finish(): { outputTail: string; stderrTail: string; stdout: string };
}

class Tail {
  #text = '';
  constructor(readonly limit: number) {}
  add(line: string): void {
    this.#text += line + '\n';
    if (this.#text.length > this.limit * 2) this.#text = this.#text.slice(-this.limit);
  }
  get text(): string {
    return this.#text.slice(-this.limit);
  }
}

/** Create a collector; `onLine` errors are swallowed so a progress bug cannot break a run. */
export function createOutputCollector(opts: {
  onLine: ((line: string) => void) | undefined;
  log: Writable | undefined;
  captureStdout: boolean;
}): OutputCollector {
  const combined = new Tail(OUTPUT_TAIL);
  const stderr = new Tail(STDERR_TAIL);
  let stdout = '';
  const pending: Record<Source, string> = { stdout: '', stderr: '' };
  const decoders: Record<Source, StringDecoder> = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };

  const emit = (source: Source, line: string): void => {
    const clean = line.endsWith('\r') ? line.slice(0, -1) : line;
    combined.add(clean);
    if (source === 'stderr') stderr.add(clean);
    opts.log?.write(clean + '\n');
    if (opts.onLine) {
      try {
        opts.onLine(clean);
      } catch {
        // progress reporting must never fail the engine step
      }
    }
  };

  const feed = (source: Source, text: string): void => {
    if (source === 'stdout' && opts.captureStdout) stdout += text;
    const parts = (pending[source] + text).split('\n');
    pending[source] = parts.pop() ?? '';
    for (const line of parts) emit(source, line);
  };

  return {
    push(source, chunk) {
      feed(source, typeof chunk === 'string' ? chunk : decoders[source].write(chunk));
    },
    finish() {
      for (const source of ['stdout', 'stderr'] as const) {
        feed(source, decoders[source].end());
        if (pending[source] !== '') emit(source, pending[source]);
        pending[source] = '';
      }
      return { outputTail: combined.text, stderrTail: stderr.text, stdout };
    },
  };
}
