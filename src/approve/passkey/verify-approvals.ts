// Offline proof: re-verify every passkey signature recorded in the audit chains against the keys whose
// registration the chains also record, and say which applies rest on a proven approval. Needs nothing but
// the records: no runner, no Redis, no network. Works on any records shaped like the audit's.
import { approvalChallenge } from './challenge.ts';
import { PasskeyError } from './errors.ts';
import type { PasskeyProof } from './gate.ts';
import { parseAssertion } from './reply.ts';
import { verifyAssertion, type RegisteredPasskey } from './verify.ts';

/** The fields of an audit record this reads (audit/audit.ts AuditRecord). */
export interface RecordLike {
  seq: number;
  type: string;
  run: string | null;
  subject?: { sha: string; workspace: string };
  plan?: { sha256: string };
  detail?: Record<string, unknown>;
}

export interface ProofFinding {
  chain: string;
  seq: number;
  run: string | null;
  type: string;
  approver: string | null;
  credentialId: string | null;
  ok: boolean;
  code?: string;
  message?: string;
}

export interface ApplyFinding {
  chain: string;
  seq: number;
  run: string;
  proven: boolean;
}

export const PASSKEY_RECORD = { added: 'passkey.added', removed: 'passkey.removed', firstStep: 'approval.passkey' } as const;
const DECISION_OF: Record<string, 'approve' | 'deny'> = { 'approval.granted': 'approve', 'approval.denied': 'deny', [PASSKEY_RECORD.firstStep]: 'approve' };

function credentialOf(detail: Record<string, unknown> | undefined): RegisteredPasskey | null {
  const c = detail?.['credential'] as RegisteredPasskey | undefined;
  return c && typeof c.credentialId === 'string' && typeof c.publicKey === 'string' && typeof c.approver === 'string' ? { ...c, counter: 0 } : null;
}

async function checkProof(record: RecordLike, proof: PasskeyProof, keys: Map<string, RegisteredPasskey>): Promise<void> {
  const expected = DECISION_OF[record.type];
  if (proof.decision !== expected) throw new PasskeyError('challenge', `a ${record.type} record carries a signature for "${String(proof.decision)}"`);
  const key = keys.get(proof.credentialId);
  if (!key) throw new PasskeyError('unregistered', 'no passkey.added record registers this credential before the approval');
  const approver = record.detail?.['approver'];
  if (key.approver !== approver) throw new PasskeyError('unregistered', `the key is registered to ${key.approver}, the record names ${String(approver)}`);
  if (!record.run || !record.subject || !record.plan) throw new PasskeyError('malformed', 'the record does not name the run, commit, workspace and plan');
  const challenge = approvalChallenge({ runId: record.run, sha: record.subject.sha, workspace: record.subject.workspace, planSha256: record.plan.sha256, decision: expected, nonceSha256: proof.nonceSha256 });
  const assertion = parseAssertion({ id: proof.credentialId, authenticatorData: proof.authenticatorData, clientDataJSON: proof.clientDataJSON, signature: proof.signature });
  if ('invalid' in assertion) throw new PasskeyError('malformed', assertion.invalid);
  if (typeof proof.nonceSha256 !== 'string') throw new PasskeyError('malformed', 'the proof names no nonce');
  await verifyAssertion(assertion, { ...key, counter: 0 }, { challenge, rpId: key.rpId, origin: key.origin, checkCounter: false });
}

/** Check every recorded passkey proof (records oldest first, across chains), and every apply's approval. */
export async function verifyApprovalProofs(records: Array<{ chain: string; record: RecordLike }>): Promise<{ proofs: ProofFinding[]; applies: ApplyFinding[] }> {
  const keys = new Map<string, RegisteredPasskey>();
  const proofs: ProofFinding[] = [];
  const provenRuns = new Set<string>();
  const applies: ApplyFinding[] = [];
  for (const { chain, record } of records) {
    if (record.type === PASSKEY_RECORD.added) {
      const c = credentialOf(record.detail);
      if (c) keys.set(c.credentialId, c);
      continue;
    }
    if (record.type === PASSKEY_RECORD.removed) {
      keys.delete(String(record.detail?.['credentialId']));
      continue;
    }
    if (record.type === 'apply.started' && record.run) {
      applies.push({ chain, seq: record.seq, run: record.run, proven: provenRuns.has(record.run) });
      continue;
    }
    const proof = record.detail?.['passkey'] as PasskeyProof | undefined;
    if (!proof || !(record.type in DECISION_OF)) continue;
    const finding: ProofFinding = { chain, seq: record.seq, run: record.run, type: record.type, approver: typeof record.detail?.['approver'] === 'string' ? (record.detail['approver'] as string) : null, credentialId: typeof proof.credentialId === 'string' ? proof.credentialId : null, ok: true };
    try {
      await checkProof(record, proof, keys);
      if (record.type === 'approval.granted' && record.run) provenRuns.add(record.run);
    } catch (err) {
      if (!(err instanceof PasskeyError)) throw err;
      Object.assign(finding, { ok: false, code: err.code, message: err.message });
      if (record.run) provenRuns.delete(record.run);
    }
    proofs.push(finding);
  }
  return { proofs, applies };
}
