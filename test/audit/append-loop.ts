// A writer that appends to one chain until it is killed, printing each acknowledged (fsynced) record.
// Usage: node --import tsx test/audit/append-loop.ts FILE RECORD_BYTES
// The disk is made slow: every write() call stores at most 4 KiB and takes a millisecond (a short
// write, which the writer must finish itself), so a SIGKILL lands in the middle of a record's bytes.
import { open } from 'node:fs/promises';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { Scrubber } from '../../src/log/scrub.ts';
import { sampleInput } from './chain-fixture.ts';

const [file, bytes] = [process.argv[2]!, Number(process.argv[3] ?? 64_000)];
const probe = await open('/dev/null', 'r');
const proto = Object.getPrototypeOf(probe) as { write(buf: Buffer, offset: number, length: number, position: number | null): Promise<{ bytesWritten: number }> };
await probe.close();
const realWrite = proto.write;
proto.write = async function (this: unknown, buf, offset, length, position) {
  await new Promise((r) => setTimeout(r, 1));
  return realWrite.call(this, buf, offset, Math.min(length, 4096), position);
};

const log = await AuditLog.open(file, { scrubber: new Scrubber() });
const filler = 'x'.repeat(bytes);
let i = 0;
await Promise.all(
  Array.from({ length: 4 }, async () => {
    for (;;) {
      const r = await log.append(sampleInput(++i, { detail: { filler } }));
      process.stdout.write(`ACK ${r.seq} ${r.hash}\n`);
    }
  }),
);
