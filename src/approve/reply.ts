// The reply a phone sends when a button is tapped: `{"v":1,"nonce":"…","decision":"approve"}`. Pure.
// Anyone who can write to a reply topic can send anything, so parsing is strict and says what was wrong.
import type { Decision } from './approve.ts';

export interface Reply {
  nonce: string;
  decision: Decision;
}

/** What `airlock doctor` publishes to check a reply token can write; the runner notes it and moves on. */
export const DOCTOR_PROBE = { v: 1, probe: 'airlock doctor' } as const;

const MAX_REPLY = 1024;
const NONCE = /^[A-Za-z0-9_-]{22,128}$/;

/** The body of a button's http action. */
export function renderReply(nonce: string, decision: Decision): string {
  return JSON.stringify({ v: 1, nonce, decision });
}

/** Parse a reply body: a Reply, `'probe'` for doctor's check, or the reason it is not a valid reply. */
export function parseReply(body: unknown): Reply | 'probe' | { invalid: string } {
  if (typeof body !== 'string') return { invalid: 'the message has no text body' };
  if (body.length > MAX_REPLY) return { invalid: `the body is ${body.length} characters; a reply is under ${MAX_REPLY}` };
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { invalid: 'the body is not JSON' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { invalid: 'the body is not a JSON object' };
  const obj = value as Record<string, unknown>;
  if (obj['v'] === 1 && obj['probe'] === DOCTOR_PROBE.probe && Object.keys(obj).length === 2) return 'probe';
  if (obj['v'] !== 1) return { invalid: `unsupported reply version ${JSON.stringify(obj['v'] ?? null)}` };
  const extra = Object.keys(obj).filter((k) => !['v', 'nonce', 'decision'].includes(k));
  if (extra.length > 0) return { invalid: `unexpected field(s) ${extra.slice(0, 3).map((k) => JSON.stringify(k.slice(0, 20))).join(', ')}` };
  if (typeof obj['nonce'] !== 'string' || !NONCE.test(obj['nonce'])) return { invalid: 'the nonce is missing or not a base64url string' };
  if (obj['decision'] !== 'approve' && obj['decision'] !== 'deny') return { invalid: 'the decision must be "approve" or "deny"' };
  return { nonce: obj['nonce'], decision: obj['decision'] };
}
