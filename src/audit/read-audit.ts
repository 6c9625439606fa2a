// Reading audit chains back: every chain file under the audit directory, merged by time.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AuditRecord } from './audit.ts';

/** The audit directory of a runner's data dir. */
export function auditDir(dataDir: string): string {
  return path.join(dataDir, 'audit');
}

/** The chain files in `dir` (each `<writer>.jsonl`). */
export async function listChainFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));
  return names.filter((n) => n.endsWith('.jsonl')).sort().map((n) => path.join(dir, n));
}

/** Every parsable record of every chain in `dir`, oldest first; optionally only one run's. */
export async function readAuditRecords(dir: string, filter: { run?: string } = {}): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for (const file of await listChainFiles(dir)) {
    for (const line of (await readFile(file, 'utf8')).split('\n')) {
      if (!line) continue;
      try {
        const record = JSON.parse(line) as AuditRecord;
        if (!filter.run || record.run === filter.run) records.push(record);
      } catch {
        // `airlock audit verify` reports damaged lines; readers skip them.
      }
    }
  }
  return records.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
}
