// A reply that carries a passkey assertion, as the approval page POSTs it to the reply topic:
// `{"v":1,"nonce":"…","decision":"approve","passkey":{"id","authenticatorData","clientDataJSON","signature"}}`,
// every passkey field base64url. Pure and strict: anyone who can write a reply topic can send anything.
// Only the `passkey` member is read here; the rest is a plain tap, parsed by approve/reply.ts as ever.

/** A WebAuthn assertion, every field base64url as the browser gives it. */
export interface PasskeyAssertion {
  /** The credential id. */
  id: string;
  authenticatorData: string;
  clientDataJSON: string;
  signature: string;
}

const MAX_PASSKEY_REPLY = 4096;
const B64URL = /^[A-Za-z0-9_-]+$/;
const FIELDS = ['id', 'authenticatorData', 'clientDataJSON', 'signature'] as const;
const LIMITS: Record<(typeof FIELDS)[number], number> = { id: 1366, authenticatorData: 1024, clientDataJSON: 2048, signature: 1024 };

/**
 * Split a reply body: a body without a `passkey` member is returned as is; one with it becomes the tap
 * without it (for the plain reply parser) and the parsed assertion, or the reason it is not one.
 */
export function splitPasskeyReply(body: unknown): { tap: unknown; passkey?: PasskeyAssertion } | { invalid: string } {
  if (typeof body !== 'string' || !body.includes('"passkey"')) return { tap: body };
  if (body.length > MAX_PASSKEY_REPLY) return { invalid: `the body is ${body.length} characters; a passkey reply is under ${MAX_PASSKEY_REPLY}` };
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { tap: body };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !('passkey' in value)) return { tap: body };
  const { passkey, ...rest } = value as Record<string, unknown>;
  const assertion = parseAssertion(passkey);
  return 'invalid' in assertion ? assertion : { tap: JSON.stringify(rest), passkey: assertion };
}

/** Pure: an assertion object, or why it is not one. */
export function parseAssertion(value: unknown): PasskeyAssertion | { invalid: string } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { invalid: 'the passkey field is not an object' };
  const obj = value as Record<string, unknown>;
  const extra = Object.keys(obj).filter((k) => !(FIELDS as readonly string[]).includes(k));
  if (extra.length > 0) return { invalid: `unexpected passkey field(s) ${extra.slice(0, 3).map((k) => JSON.stringify(k.slice(0, 20))).join(', ')}` };
  for (const f of FIELDS) {
    const v = obj[f];
    if (typeof v !== 'string' || !B64URL.test(v) || v.length > LIMITS[f]) return { invalid: `passkey.${f} is missing or not base64url (at most ${LIMITS[f]} characters)` };
  }
  return { id: obj['id'] as string, authenticatorData: obj['authenticatorData'] as string, clientDataJSON: obj['clientDataJSON'] as string, signature: obj['signature'] as string };
}

/** The body the page POSTs (also what the tests' authenticator double sends). */
export function renderPasskeyReply(nonce: string, decision: 'approve' | 'deny', passkey: PasskeyAssertion): string {
  return JSON.stringify({ v: 1, nonce, decision, passkey });
}
