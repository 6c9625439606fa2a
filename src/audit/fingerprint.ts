// A run's fingerprint: one sha256 that pins everything that decided what an apply would do — the commit's
// tree, the plan file's bytes, the runner config, the policy, the engine version and the provider lock.
// Two runs with the same fingerprint were planned from the same inputs under the same rules.
import { createHash } from 'node:crypto';
import { readUntrusted } from '../sandbox/runner-files.ts';
import path from 'node:path';
import { canonicalJson } from '../lib/canonical-json.ts';

import type { FingerprintInputs, RunFingerprint } from '../run/plan-record.ts';
export type { FingerprintInputs, RunFingerprint };

/** Pure: the fingerprint of a run from its inputs (canonical JSON of the named inputs, hashed once). */
export function computeFingerprint(inputs: FingerprintInputs): RunFingerprint {
  const { treeId, planSha256, configHash, policyHash, engineVersion, lockFileHash } = inputs;
  const named = { treeId, planSha256, configHash, policyHash, engineVersion, lockFileHash };
  return { ...named, sha256: createHash('sha256').update(canonicalJson(named)).digest('hex') };
}

/** sha256 of the provider lock file in `workspaceDir`, or "none" when there is none. */
export async function lockFileHashIn(workspaceDir: string): Promise<string> {
  // The engine wrote this directory: never follow a link or block on a FIFO it left there.
  const bytes = await readUntrusted(path.join(workspaceDir, '.terraform.lock.hcl'));
  return bytes === null ? 'none' : createHash('sha256').update(bytes).digest('hex');
}
