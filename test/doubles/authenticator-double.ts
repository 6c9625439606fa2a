// A WebAuthn authenticator double: real keys (node:crypto, P-256/ES256 or Ed25519/EdDSA), real CBOR, real
// signatures, so the runner's verifier is tested against the bytes a browser and a security key produce.
// Knobs make the hostile cases: another RP ID or origin, no user verification, a counter set back.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

export type Alg = 'ES256' | 'EdDSA';

export interface AssertionKnobs {
  rpId?: string;
  origin?: string;
  userVerified?: boolean;
  userPresent?: boolean;
  /** The counter to report; by default the next one. */
  counter?: number;
  type?: string;
  crossOrigin?: boolean;
}

// --- a minimal CBOR encoder: unsigned/negative ints, byte and text strings, maps (all WebAuthn needs) ---
function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 256) return Buffer.from([(major << 5) | 24, n]);
  if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 255]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}
export type Cbor = number | string | Buffer | Map<Cbor, Cbor>;
export function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value)]);
  if (Buffer.isBuffer(value)) return Buffer.concat([head(2, value.length), value]);
  return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();

export class AuthenticatorDouble {
  readonly credentialId: Buffer;
  readonly alg: Alg;
  counter: number;
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  constructor(options: { alg?: Alg; counter?: number } = {}) {
    this.alg = options.alg ?? 'ES256';
    this.credentialId = randomBytes(32);
    this.counter = options.counter ?? 0;
    const pair = this.alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
    this.privateKey = pair.privateKey;
    this.publicKey = pair.publicKey;
  }

  get id(): string {
    return this.credentialId.toString('base64url');
  }

  /** The COSE_Key of the public key. */
  cosePublicKey(): Buffer {
    const jwk = this.publicKey.export({ format: 'jwk' });
    if (this.alg === 'ES256') {
      return cbor(new Map<Cbor, Cbor>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]));
    }
    return cbor(new Map<Cbor, Cbor>([[1, 1], [3, -8], [-1, 6], [-2, Buffer.from(jwk.x!, 'base64url')]]));
  }

  private authData(rpId: string, flags: number, counter: number, attested?: Buffer): Buffer {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), c, ...(attested ? [attested] : [])]);
  }

  private signOver(authData: Buffer, clientDataJSON: Buffer): Buffer {
    const data = Buffer.concat([authData, sha256(clientDataJSON)]);
    return this.alg === 'ES256' ? sign('sha256', data, this.privateKey) : sign(null, data, this.privateKey);
  }

  /** What `navigator.credentials.create` gives the page, as RegistrationResponseJSON (attestation "none"). */
  register(challenge: Buffer, rpId: string, origin: string): Record<string, unknown> {
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: challenge.toString('base64url'), origin, crossOrigin: false }));
    const idLen = Buffer.alloc(2);
    idLen.writeUInt16BE(this.credentialId.length);
    const attested = Buffer.concat([Buffer.alloc(16), idLen, this.credentialId, this.cosePublicKey()]);
    const authData = this.authData(rpId, 0x01 | 0x04 | 0x40, this.counter, attested);
    const attestationObject = cbor(new Map<Cbor, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      clientExtensionResults: {},
      response: { clientDataJSON: clientDataJSON.toString('base64url'), attestationObject: attestationObject.toString('base64url'), transports: ['internal'] },
    };
  }

  /** What `navigator.credentials.get` gives the page: the four base64url fields the reply carries. */
  assert(challenge: Buffer, rpId: string, origin: string, knobs: AssertionKnobs = {}): { id: string; authenticatorData: string; clientDataJSON: string; signature: string } {
    const counter = knobs.counter ?? (this.counter > 0 || this.alg === 'ES256' ? ++this.counter : 0);
    const flags = (knobs.userPresent === false ? 0 : 0x01) | (knobs.userVerified === false ? 0 : 0x04);
    const authData = this.authData(knobs.rpId ?? rpId, flags, counter);
    const clientDataJSON = Buffer.from(JSON.stringify({ type: knobs.type ?? 'webauthn.get', challenge: challenge.toString('base64url'), origin: knobs.origin ?? origin, crossOrigin: knobs.crossOrigin ?? false }));
    return { id: this.id, authenticatorData: authData.toString('base64url'), clientDataJSON: clientDataJSON.toString('base64url'), signature: this.signOver(authData, clientDataJSON).toString('base64url') };
  }
}
