// Before an apply, the record itself must show the approval: an `approval.granted` for this run, this
// commit and these plan bytes, by a human who is not an agent (or by the policy for tier `auto`), inside
// the verified part of a chain. Redis saying "approved" is not enough on its own.
//
// Chains only grow, so the lookup keeps, per chain file, how far it has verified and the approvals seen
// so far, and reads only the new lines on the next apply. A file that shrank or was replaced is read
// again from the start. (The witness re-verifies every chain in full each interval.)
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Run } from '../run/run.ts';
import { GENESIS, RECORD_TYPES, type AuditRecord, type ChainHead } from './audit.ts';
import { readChainLines } from './chain-lines.ts';
import { approvalMismatch, type CheckOptions } from './check.ts';
import { listChainFiles } from './read-audit.ts';
import { ChainVerifier, type ChainBreak } from './verify.ts';

export type ApprovalOnRecord = { ok: true; chain: string; seq: number } | { ok: false; reason: string };

interface ChainIndex {
  ino: number;
  /** Bytes verified so far: always the end of a complete line. */
  offset: number;
  head: ChainHead;
  broken: ChainBreak | null;
  approvals: Map<string, AuditRecord[]>;
}

/** A lookup over the chains of `auditDir` that remembers what it has already verified. */
export function createApprovalLookup(auditDir: string, options: CheckOptions = {}) {
  const indexes = new Map<string, ChainIndex>();

  async function refresh(file: string): Promise<ChainIndex> {
    const info = await stat(file).catch(() => null);
    let index = indexes.get(file);
    if (!index || !info || info.ino !== index.ino || info.size < index.offset) {
      index = { ino: info?.ino ?? 0, offset: 0, head: { seq: 0, hash: GENESIS }, broken: null, approvals: new Map() };
      indexes.set(file, index);
    }
    if (index.broken || !info || info.size === index.offset) return index;
    const verifier = new ChainVerifier({ from: index.head });
    for await (const line of readChainLines(file, { start: index.offset, end: info.size })) {
      // Another process may be appending right now: an unfinished last line is read next time.
      if (!line.terminated) break;
      const record = verifier.push(line);
      if (!record) break;
      index.offset = line.next;
      index.head = { seq: record.seq, hash: record.hash };
      if (record.type === RECORD_TYPES.approvalGranted && record.run !== null) {
        index.approvals.set(record.run, [...(index.approvals.get(record.run) ?? []), record]);
      }
    }
    const result = verifier.result();
    if (!result.ok) index.broken = result.break;
    return index;
  }

  return {
    /** Search every chain for an approval of exactly `run`'s current plan. */
    async find(run: Run): Promise<ApprovalOnRecord> {
      if (!run.plan) return { ok: false, reason: 'the run has no plan to look up an approval for' };
      const target = { run: run.id, sha: run.sha, planSha256: run.plan.sha256, tier: run.plan.tier, ...(run.approval ? { expiresAt: run.approval.expiresAt } : {}) };
      const notes: string[] = [];
      for (const file of await listChainFiles(auditDir)) {
        const index = await refresh(file);
        const chain = path.basename(file);
        for (const record of index.approvals.get(run.id) ?? []) {
          const mismatch = approvalMismatch(record, target, options);
          if (mismatch === null) return { ok: true, chain, seq: record.seq };
          notes.push(`${chain} seq ${record.seq} ${mismatch}`);
        }
        if (index.broken) notes.push(`${chain} is damaged at seq ${index.broken.seq} (${index.broken.reason}); records after it do not count`);
      }
      const why = notes.length > 0 ? `: ${notes.join('; ')}` : '';
      return { ok: false, reason: `no approval of plan ${run.plan.sha256} for this run is on the audit chains${why}` };
    },
  };
}

/** One-shot lookup (reads every chain from the start). */
export async function findApprovalOnRecord(auditDir: string, run: Run, options: CheckOptions = {}): Promise<ApprovalOnRecord> {
  return createApprovalLookup(auditDir, options).find(run);
}
