// Passkey approvals (issue 19): what a passkey signs. The challenge is the sha256 of a canonical encoding
// of the decision and exactly what it is about, so a signature proves, offline and long afterwards, that a
// registered key approved (or denied) this plan of this run. Pure; the approval page computes the same
// bytes in the browser (page/airlock-approve.html), so any change here is a new VERSION.
import { createHash } from 'node:crypto';

export const PASSKEY_CHALLENGE_VERSION = 1;
const APPROVAL_TAG = 'airlock-passkey-approval';
const REGISTRATION_TAG = 'airlock-passkey-registration';

/** The facts an approval signature covers. `nonceSha256` stands for the nonce: the nonce is a secret, its hash is not. */
export interface ChallengeFacts {
  runId: string;
  sha: string;
  workspace: string;
  planSha256: string;
  decision: 'approve' | 'deny';
  nonceSha256: string;
}

/**
 * The canonical encoding: a JSON array of a tag, the version and the facts as strings, in this order.
 * JSON.stringify of an array of strings is the same bytes in every engine (ES2019 well-formed stringify).
 */
export function encodeChallengeFacts(facts: ChallengeFacts): string {
  return JSON.stringify([APPROVAL_TAG, String(PASSKEY_CHALLENGE_VERSION), facts.runId, facts.sha, facts.workspace, facts.planSha256, facts.decision, facts.nonceSha256]);
}

/** The 32-byte WebAuthn challenge for one decision. */
export function approvalChallenge(facts: ChallengeFacts): Buffer {
  return createHash('sha256').update(encodeChallengeFacts(facts), 'utf8').digest();
}

/** The challenge a registration signs: binds the new key to one approver name and one registration nonce. */
export function registrationChallenge(approver: string, nonce: string): Buffer {
  return createHash('sha256').update(JSON.stringify([REGISTRATION_TAG, String(PASSKEY_CHALLENGE_VERSION), approver, nonce]), 'utf8').digest();
}

export function sha256(bytes: Buffer | string): Buffer {
  return createHash('sha256').update(bytes).digest();
}
