// Reading received spans as trees: the spans of one run, a span's children in start order, and the leak
// check over raw exported bytes.
import type { ReceivedSpan } from '../doubles/otlp-receiver.ts';

/** The run's own span (`airlock run`) for `runId`, if it has arrived. */
export function runSpan(spans: ReceivedSpan[], runId: string): ReceivedSpan | undefined {
  return spans.find((s) => s.name === 'airlock run' && s.attributes['airlock.run.id'] === runId);
}

/** Every span of `traceId`. */
export function traceOf(spans: ReceivedSpan[], traceId: string): ReceivedSpan[] {
  return spans.filter((s) => s.traceId === traceId);
}

/** The names of `parent`'s children, in the order they started. */
export function childNames(spans: ReceivedSpan[], parent: ReceivedSpan): string[] {
  return spans
    .filter((s) => s.traceId === parent.traceId && s.parentSpanId === parent.spanId)
    .sort((a, b) => a.startMs - b.startMs)
    .map((s) => s.name);
}

export function childOf(spans: ReceivedSpan[], parent: ReceivedSpan, name: string): ReceivedSpan {
  const found = spans.filter((s) => s.traceId === parent.traceId && s.parentSpanId === parent.spanId && s.name === name);
  if (found.length !== 1) throw new Error(`${parent.name} has ${found.length} children named ${JSON.stringify(name)}`);
  return found[0]!;
}

/** Needles found in any raw body. */
export function leaks(raw: Buffer[], needles: string[]): string[] {
  const text = Buffer.concat(raw).toString('utf8');
  return needles.filter((n) => text.includes(n));
}
