// What the operator sees of a failed engine process: the last lines of its own output, scrubbed.
import { scrubber } from '../log/scrub.ts';
import { OUTPUT_TAIL } from './output-collector.ts';

/**
 * The last lines of an engine failure's output, scrubbed before they are cut: a secret the output tail cut in
 * half at its start is scrubbed too (the run store scrubs again on write).
 */
export function engineOutputTail(err: Error, lines = 20): string | undefined {
  const tail = (err as { outputTail?: unknown }).outputTail;
  if (typeof tail !== 'string' || tail.length === 0) return undefined;
  return scrubber.scrubCut(tail, { before: tail.length >= OUTPUT_TAIL }).split('\n').slice(-lines).join('\n');
}
