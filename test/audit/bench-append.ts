// Appends per second to one chain, with and without group commit. Not a test (no timed assertions):
//   node --import tsx test/audit/bench-append.ts [records] [in-flight]
// Each append is acknowledged only after its fsync in both modes; group commit lets appends that arrive
// while a write is on its way to disk share the next fsync.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { verifyChainFile } from '../../src/audit/verify-files.ts';
import { Scrubber } from '../../src/log/scrub.ts';
import { sampleInput } from './chain-fixture.ts';

const total = Number(process.argv[2] ?? 2000);
const inFlight = Number(process.argv[3] ?? 16);

async function measure(groupCommit: boolean, concurrency: number): Promise<number> {
  const dir = await mkdtemp(path.join(process.env['AIRLOCK_BENCH_DIR'] ?? tmpdir(), 'airlock-bench-audit-'));
  const file = path.join(dir, 'bench.jsonl');
  const log = await AuditLog.open(file, { scrubber: new Scrubber(), groupCommit });
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await log.append(sampleInput(++next));
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await log.close();
  const result = await verifyChainFile(file);
  if (!result.ok || result.records !== total) throw new Error(`chain does not verify: ${JSON.stringify(result)}`);
  await rm(dir, { recursive: true, force: true });
  return total / seconds;
}

for (const concurrency of [1, inFlight]) {
  for (const groupCommit of [false, true]) {
    const rate = await measure(groupCommit, concurrency);
    console.log(`${concurrency} in flight, group commit ${groupCommit ? 'on ' : 'off'}: ${rate.toFixed(0)} appends/s (${total} records, each fsynced before acknowledged)`);
  }
}
