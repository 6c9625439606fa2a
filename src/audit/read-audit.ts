// Reading audit chains back: every chain file under the audit directory, merged by time. Readers skip
// damaged lines; `airlock audit verify` is what reports them.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { AuditRecord } from './audit.ts';
import { readChainLines } from './chain-lines.ts';
import type { ChainRecord } from './check.ts';
import { parseRecord } from './verify.ts';

/** The audit directory of a runner's data dir. */
export function auditDir(dataDir: string): string {
  return path.join(dataDir, 'audit');
}

/** The chain files in `dir` (each `<writer>.jsonl`); moved-aside torn tails and locks are not chains. */
export async function listChainFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));
  return names.filter((n) => n.endsWith('.jsonl')).sort().map((n) => path.join(dir, n));
}

/** The chain files meant by `target`: the file itself, or every `*.jsonl` in a directory. */
export async function resolveChainFiles(target: string): Promise<string[]> {
  const info = await stat(target).catch(() => null);
  if (info?.isDirectory()) return listChainFiles(target);
  return info ? [target] : [];
}

/** Every parsable record of every chain in `target` (a directory or one file), oldest first; optionally only one run's. */
export async function readAuditRecords(target: string, filter: { run?: string } = {}): Promise<AuditRecord[]> {
  return (await readChainRecords(target, filter)).map((cr) => cr.record);
}

/** Like readAuditRecords, each record with the chain file it is on (seq numbers are per chain). */
export async function readChainRecords(target: string, filter: { run?: string } = {}): Promise<ChainRecord[]> {
  const records: ChainRecord[] = [];
  for (const file of await resolveChainFiles(target)) {
    const chain = path.basename(file);
    for await (const line of readChainLines(file)) {
      // A cheap substring test first: most lines are about other runs.
      if (filter.run && !line.text.includes(filter.run)) continue;
      const record = parseRecord(line.text);
      if (typeof record !== 'string' && (!filter.run || record.run === filter.run)) records.push({ chain, record });
    }
  }
  return sortByTime(records);
}

/** The last `n` records across the chains of `target` (a directory or one file), oldest first. */
export async function tailAuditRecords(target: string, n: number): Promise<AuditRecord[]> {
  return (await tailChainRecords(target, n)).map((cr) => cr.record);
}

/** Like tailAuditRecords, each record with the chain file it is on. */
export async function tailChainRecords(target: string, n: number): Promise<ChainRecord[]> {
  const all: ChainRecord[] = [];
  for (const file of await resolveChainFiles(target)) {
    const chain = path.basename(file);
    const last: ChainRecord[] = [];
    for await (const line of readChainLines(file)) {
      const record = parseRecord(line.text);
      if (typeof record === 'string') continue;
      last.push({ chain, record });
      if (last.length > n) last.shift();
    }
    all.push(...last);
  }
  return sortByTime(all).slice(-n);
}

function sortByTime(records: ChainRecord[]): ChainRecord[] {
  return records.sort((a, b) => (a.record.time < b.record.time ? -1 : a.record.time > b.record.time ? 1 : 0));
}
