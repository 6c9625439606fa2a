// Verifying one WebAuthn assertion against a registered key. Every check we can name is made here first,
// each with its own code (challenge, origin, RP ID, user presence and verification, counter); the
// signature itself, over COSE keys of every algorithm a passkey may use, is checked by
// @simplewebauthn/server, a maintained library (Node >= 20), rather than by hand-rolled COSE parsing.
import { timingSafeEqual } from 'node:crypto';
import { sha256 } from './challenge.ts';
import { PasskeyError } from './errors.ts';
import type { PasskeyAssertion } from './reply.ts';

/** A registered credential: whose it is, its COSE public key (base64url), and the last counter seen. */
export interface RegisteredPasskey {
  approver: string;
  credentialId: string;
  publicKey: string;
  counter: number;
  rpId: string;
  origin: string;
  addedAt: string;
}

export interface AssertionExpectation {
  challenge: Buffer;
  rpId: string;
  origin: string;
  /** Off only for offline re-verification, where the counter at the time is not known. */
  checkCounter: boolean;
}

export interface VerifiedAssertion {
  credentialId: string;
  counter: number;
  userVerified: true;
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;

/** Pure: the parts of authenticatorData the checks read. */
export function readAuthenticatorData(bytes: Buffer): { rpIdHash: Buffer; flags: number; counter: number } {
  if (bytes.length < 37) throw new PasskeyError('malformed', `authenticatorData is ${bytes.length} bytes; it has at least 37`);
  return { rpIdHash: bytes.subarray(0, 32), flags: bytes[32]!, counter: bytes.readUInt32BE(33) };
}

function decode(field: string, value: string): Buffer {
  const bytes = Buffer.from(value, 'base64url');
  if (bytes.length === 0 || bytes.toString('base64url') !== value.replace(/=+$/, '')) throw new PasskeyError('malformed', `${field} is not base64url`);
  return bytes;
}

function parseClientData(bytes: Buffer): { type: string; challenge: string; origin: string; crossOrigin?: unknown } {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new PasskeyError('malformed', 'clientDataJSON is not JSON', err);
  }
  const c = value as Record<string, unknown> | null;
  if (!c || typeof c['type'] !== 'string' || typeof c['challenge'] !== 'string' || typeof c['origin'] !== 'string') {
    throw new PasskeyError('malformed', 'clientDataJSON lacks type, challenge or origin');
  }
  return c as { type: string; challenge: string; origin: string };
}

const same = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

/** The checks on clientDataJSON and authenticatorData, each with its own code. Pure; throws PasskeyError. */
export function checkAssertionFacts(assertion: PasskeyAssertion, credential: RegisteredPasskey, expected: AssertionExpectation): { counter: number } {
  if (assertion.id !== credential.credentialId) throw new PasskeyError('unregistered', 'the assertion names another credential than the one looked up');
  const client = parseClientData(decode('clientDataJSON', assertion.clientDataJSON));
  if (client.type !== 'webauthn.get') throw new PasskeyError('malformed', `clientDataJSON.type is ${JSON.stringify(client.type.slice(0, 40))}, not "webauthn.get"`);
  if (!same(Buffer.from(client.challenge, 'base64url'), expected.challenge)) throw new PasskeyError('challenge', 'the passkey signed a different challenge than this decision on this plan');
  if (client.origin !== expected.origin) throw new PasskeyError('origin', `the assertion was made on ${JSON.stringify(client.origin.slice(0, 100))}, not ${expected.origin}`);
  if (client.crossOrigin === true) throw new PasskeyError('origin', 'the assertion was made in a cross-origin frame');
  const auth = readAuthenticatorData(decode('authenticatorData', assertion.authenticatorData));
  if (!same(auth.rpIdHash, sha256(expected.rpId))) throw new PasskeyError('rpId', `the authenticator signed for another RP ID than ${expected.rpId}`);
  if ((auth.flags & FLAG_UP) === 0) throw new PasskeyError('presence', 'the user-present flag is not set');
  if ((auth.flags & FLAG_UV) === 0) throw new PasskeyError('userVerification', 'the user-verified flag is not set');
  if (expected.checkCounter && (auth.counter > 0 || credential.counter > 0) && auth.counter <= credential.counter) {
    throw new PasskeyError('counter', `the signature counter is ${auth.counter}, not above the ${credential.counter} last seen`);
  }
  return { counter: auth.counter };
}

/** Verify an assertion completely: the named checks, then the signature over authenticatorData ‖ sha256(clientDataJSON). */
export async function verifyAssertion(assertion: PasskeyAssertion, credential: RegisteredPasskey, expected: AssertionExpectation): Promise<VerifiedAssertion> {
  const { counter } = checkAssertionFacts(assertion, credential, expected);
  // Loaded at the first signature to check, not with every process that imports the passkey code.
  const { verifyAuthenticationResponse } = await import('@simplewebauthn/server');
  let verified = false;
  try {
    const result = await verifyAuthenticationResponse({
      response: {
        id: assertion.id,
        rawId: assertion.id,
        type: 'public-key',
        clientExtensionResults: {},
        response: { authenticatorData: assertion.authenticatorData, clientDataJSON: assertion.clientDataJSON, signature: assertion.signature },
      },
      expectedChallenge: expected.challenge.toString('base64url'),
      expectedOrigin: expected.origin,
      expectedRPID: expected.rpId,
      // The counter was checked above (and is not known offline): the library sees the one before this one.
      credential: { id: credential.credentialId, publicKey: new Uint8Array(Buffer.from(credential.publicKey, 'base64url')), counter: counter > 0 ? counter - 1 : 0 },
      requireUserVerification: true,
    });
    verified = result.verified;
  } catch (err) {
    throw new PasskeyError('signature', 'the signature does not verify against the registered key', err);
  }
  if (!verified) throw new PasskeyError('signature', 'the signature does not verify against the registered key');
  return { credentialId: credential.credentialId, counter, userVerified: true };
}
