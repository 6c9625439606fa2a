// Registration: `airlock passkey register` makes the link (page in register mode, fragment with the
// approver and a fresh nonce); the page has the approver's device create a passkey and gives a file;
// `airlock passkey add --approver NAME FILE` checks that file here and stores the public key.
// The attestation statement is "none" (passkeys rarely carry another): what binds the key to the approver
// is the operator importing the file for that approver, and the challenge naming that approver.
import { randomBytes } from 'node:crypto';
import type { RegistrationResponseJSON, VerifiedRegistrationResponse } from '@simplewebauthn/server';
import { registrationChallenge } from './challenge.ts';
import { pageUrl, type PasskeyConfig } from './config.ts';
import { PasskeyError } from './errors.ts';
import type { RegisteredPasskey } from './verify.ts';

export const REGISTRATION_KIND = 'airlock-passkey-registration';
const MAX_FILE = 16 * 1024;

/** What the register link carries in its fragment (the page reads it; its server never sees it). */
export interface RegistrationRequest {
  v: 1;
  mode: 'register';
  approver: string;
  nonce: string;
  rpId: string;
}

/** A fresh registration link for one approver. */
export function registrationLink(config: PasskeyConfig, approver: string): { url: string; request: RegistrationRequest } {
  const request: RegistrationRequest = { v: 1, mode: 'register', approver, nonce: randomBytes(16).toString('base64url'), rpId: config.rpId };
  return { url: pageUrl(config, `r=${Buffer.from(JSON.stringify(request)).toString('base64url')}`), request };
}

/** Check a registration file from the page and turn it into a credential for `approver`. Throws PasskeyError. */
export async function readRegistration(text: string, approver: string, config: PasskeyConfig, now = new Date()): Promise<RegisteredPasskey> {
  if (text.length > MAX_FILE) throw new PasskeyError('registration', `the file is ${text.length} bytes; a registration is under ${MAX_FILE}`);
  let file: Record<string, unknown>;
  try {
    file = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new PasskeyError('registration', 'the file is not JSON (it is the text the approval page shows after "Register passkey")', err);
  }
  if (file === null || typeof file !== 'object' || file['kind'] !== REGISTRATION_KIND || file['v'] !== 1) throw new PasskeyError('registration', `the file is not an Airlock passkey registration (kind "${REGISTRATION_KIND}", v 1)`);
  if (file['approver'] !== approver) throw new PasskeyError('registration', `the file registers a passkey for ${JSON.stringify(String(file['approver']).slice(0, 64))}, not for ${approver}`);
  const nonce = file['nonce'];
  if (typeof nonce !== 'string' || !/^[A-Za-z0-9_-]{16,64}$/.test(nonce)) throw new PasskeyError('registration', 'the file has no registration nonce');
  const response = file['response'] as RegistrationResponseJSON | undefined;
  if (!response || typeof response !== 'object' || typeof response.id !== 'string' || !/^[A-Za-z0-9_-]{16,1366}$/.test(response.id)) throw new PasskeyError('registration', 'the file has no credential');
  // Loaded here, by the one command that registers a key, not with every process that imports this file.
  const { verifyRegistrationResponse } = await import('@simplewebauthn/server');
  let result: VerifiedRegistrationResponse;
  try {
    result = await verifyRegistrationResponse({
      response,
      expectedChallenge: registrationChallenge(approver, nonce).toString('base64url'),
      expectedOrigin: config.origin,
      expectedRPID: config.rpId,
      requireUserVerification: true,
    });
  } catch (err) {
    throw new PasskeyError('registration', `the attestation does not verify: ${(err as Error).message.slice(0, 200)}`, err);
  }
  if (!result.verified || !result.registrationInfo) throw new PasskeyError('registration', 'the attestation does not verify');
  const { credential } = result.registrationInfo;
  return {
    approver,
    credentialId: credential.id,
    publicKey: Buffer.from(credential.publicKey).toString('base64url'),
    counter: credential.counter,
    rpId: config.rpId,
    origin: config.origin,
    addedAt: now.toISOString(),
  };
}
