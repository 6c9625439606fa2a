// CLI output: everything printed passes the scrubber; errors say what happened and what to do next.
import { AirlockError } from '../errors.ts';
import { scrubber } from '../log/scrub.ts';
import { escapeJsonText } from '../lib/untrusted-text.ts';

export interface Output {
  out(text: string): void;
  err(text: string): void;
  isTTY: boolean;
}

export function processOutput(): Output {
  return {
    out: (text) => process.stdout.write(`${scrubber.scrubString(text)}\n`),
    err: (text) => process.stderr.write(`${scrubber.scrubString(text)}\n`),
    isTTY: process.stdout.isTTY === true,
  };
}

/** `--json` output: bidi, C1 and other display-steering characters written as `\uXXXX`, never raw. */
export function renderJson(value: unknown, opts: { oneLine?: boolean } = {}): string {
  return escapeJsonText(opts.oneLine ? JSON.stringify(value) : JSON.stringify(value, null, 2));
}

/** Print an error with its code and hint; returns the exit code to use. */
export function reportError(output: Output, err: unknown): number {
  if (err instanceof AirlockError) {
    output.err(`error: ${err.message}`);
    if (err.hint) output.err(`  next: ${err.hint}`);
    output.err(`  code: ${err.code}`);
    return 1;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  output.err(`error: ${e.message}`);
  if ((e as NodeJS.ErrnoException).code === 'ECONNREFUSED') output.err('  next: is Redis running? Check `redis.url` and run `airlock doctor`.');
  return 1;
}
