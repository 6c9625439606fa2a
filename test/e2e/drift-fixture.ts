// Helpers of the drift end-to-end tests: queue a check now and find its run, and read what was recorded.
import assert from 'node:assert/strict';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import type { Run } from '../../src/run/run.ts';
import { waitFor } from '../support/harness.ts';
import type { Loop } from './loop-fixture.ts';

/** A yearly schedule: the tests fire checks themselves with `airlock drift --now`. */
export const DRIFT = { schedule: '0 0 1 1 *', ref: 'refs/heads/main', jitter: '0s' };

/** Queue a drift check through the CLI and wait for the runner to make it a drift run not in `seen`. */
export async function checkNow(loop: Loop, seen: Set<string>): Promise<Run> {
  const queued = await loop.cli('drift', 'infra/default', '--now');
  assert.equal(queued.code, 0, queued.err);
  return waitFor('a new drift run', async () => {
    const fresh = (await loop.runner.cp.runs.list(100)).find((r) => r.kind === 'drift' && !seen.has(r.id));
    if (fresh) seen.add(fresh.id);
    return fresh;
  });
}

export const records = async (loop: Loop, runId?: string) => readAuditRecords(loop.runner.cp.paths.auditDir, runId ? { run: runId } : {});
export const requests = async (loop: Loop, runId: string) => (await records(loop, runId)).filter((r) => r.type === 'approval.requested').length;
