// Summarise one plan JSON file in a process of its own, so its peak RSS is the reader's alone.
// Usage: node --import tsx test/bench/summarize-child.ts FILE | --baseline   → one JSON line on stdout.
import { stat } from 'node:fs/promises';
import { summarizePlanFile } from '../../src/plan/read-plan-json.ts';

const file = process.argv[2]!;
if (file === '--baseline') {
  process.stdout.write(`${JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS })}\n`);
} else {
  const bytes = (await stat(file)).size;
  const started = performance.now();
  const summary = await summarizePlanFile(file);
  const ms = performance.now() - started;
  process.stdout.write(`${JSON.stringify({ ms, bytes, maxRssKiB: process.resourceUsage().maxRSS, counts: summary.counts })}\n`);
}
