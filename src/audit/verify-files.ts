// Verifying chain files on disk: one file, or every chain in an audit directory (each runner writes its
// own `<id>.jsonl`, the CLI `<id>-cli.jsonl`). Reads stream; memory does not grow with the file.
import path from 'node:path';
import type { AuditRecord } from './audit.ts';
import { readChainLines } from './chain-lines.ts';
import type { ChainRecord } from './check.ts';
import { resolveChainFiles } from './read-audit.ts';
import { ChainVerifier, type VerifyOptions, type VerifyResult } from './verify.ts';

export interface ChainReport {
  file: string;
  chain: string;
  result: VerifyResult;
}

/** Verify one chain file, optionally only its first `end` bytes; `onRecord` sees each record of the valid prefix. */
export async function verifyChainFile(
  file: string,
  options: VerifyOptions & { end?: number; onRecord?: (record: AuditRecord) => boolean | void } = {},
): Promise<VerifyResult> {
  const verifier = new ChainVerifier(options);
  for await (const line of readChainLines(file, options.end === undefined ? {} : { end: options.end })) {
    const record = verifier.push(line);
    // onRecord returns true to stop early (a search that found what it wanted).
    if (record && options.onRecord?.(record) === true) break;
  }
  return verifier.result();
}

/** Verify every chain of `target` (file or directory). With `against`, each report says whether that head was seen. */
export async function verifyChains(target: string, options: VerifyOptions = {}): Promise<ChainReport[]> {
  const reports: ChainReport[] = [];
  for (const file of await resolveChainFiles(target)) {
    reports.push({ file, chain: path.basename(file), result: await verifyChainFile(file, options) });
  }
  return reports;
}

/** Every record on the valid prefix of each chain of `target`, with the verify reports. */
export async function readVerifiedRecords(target: string, options: VerifyOptions = {}): Promise<{ records: ChainRecord[]; reports: ChainReport[] }> {
  const records: ChainRecord[] = [];
  const reports: ChainReport[] = [];
  for (const file of await resolveChainFiles(target)) {
    const chain = path.basename(file);
    const result = await verifyChainFile(file, { ...options, onRecord: (record) => void records.push({ chain, record }) });
    reports.push({ file, chain, result });
  }
  return { records, reports };
}
