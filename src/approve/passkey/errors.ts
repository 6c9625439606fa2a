// Passkey errors: one stable code per way an assertion or a registration can be wrong, so a refusal says
// exactly what failed and the audit record keeps the code.
import { AirlockError } from '../../errors.ts';

export const PASSKEY_CODES = {
  malformed: 'airlock:passkey-malformed',
  challenge: 'airlock:passkey-challenge',
  origin: 'airlock:passkey-origin',
  rpId: 'airlock:passkey-rpid',
  presence: 'airlock:passkey-user-presence',
  userVerification: 'airlock:passkey-user-verification',
  counter: 'airlock:passkey-counter-regression',
  unregistered: 'airlock:passkey-unregistered',
  signature: 'airlock:passkey-signature',
  required: 'airlock:passkey-required',
  notConfigured: 'airlock:passkey-not-configured',
  registration: 'airlock:passkey-registration',
  store: 'airlock:passkey-store',
} as const;

export type PasskeyProblem = keyof typeof PASSKEY_CODES;

const HINTS: Record<PasskeyProblem, string> = {
  malformed: 'The reply is not a WebAuthn assertion from the Airlock approval page. Open the request again from the notification.',
  challenge: 'The passkey signed a different run, plan, decision or request: open the newest request from the notification and approve there.',
  origin: 'The assertion was made on a page other than `approval.passkey.origin`. Use the approval page the operator hosts.',
  rpId: 'The passkey belongs to another site (RP ID). Register a passkey on the approval page of `approval.passkey.origin`.',
  presence: 'The authenticator did not report a user present. Approve again and touch the key.',
  userVerification: 'The authenticator did not verify the user (PIN or biometric). Approve again with user verification.',
  counter: 'The signature counter went back: the key may have been cloned. Check the authenticator; remove it with `airlock passkey remove` if in doubt.',
  unregistered: 'Register the passkey for this approver: `airlock passkey register --approver NAME`, then `airlock passkey add --approver NAME FILE`; check with `airlock passkey list`.',
  signature: 'The signature does not verify against the registered key. Nothing was changed.',
  required: 'This decision needs a passkey: open the request\'s "Review" link and use "Approve with passkey".',
  notConfigured: 'Set `approval.passkey.origin` in the runner config (the HTTPS origin that hosts the approval page).',
  registration: 'Register again: `airlock passkey register --approver NAME`, open the link on the approver\'s device, and import the file it gives.',
  store: 'Check the passkey store file under the runner data dir (`passkeys.json`, mode 0600).',
};

/** An assertion or registration that does not hold; `problem` names the check that failed. */
export class PasskeyError extends AirlockError {
  readonly problem: PasskeyProblem;

  constructor(problem: PasskeyProblem, message: string, cause?: unknown) {
    super(PASSKEY_CODES[problem], `passkey: ${message}`, { hint: HINTS[problem], cause });
    this.problem = problem;
  }
}
