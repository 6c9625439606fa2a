// Passkey test helpers: register an authenticator double through the CLI as an operator would, read the
// Review link of a request, post what the approval page posts, and rewrite an audit chain as an attacker
// with write access to it would (every hash recomputed).
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hashToken } from '../../../src/approve/approve.ts';
import type { NtfyEvent } from '../../../src/ntfy/client.ts';
import type { ChallengeFacts } from '../../../src/approve/passkey/challenge.ts';
import { registrationChallenge } from '../../../src/approve/passkey/challenge.ts';
import { REGISTRATION_KIND } from '../../../src/approve/passkey/registration.ts';
import { hashRecord, type AuditRecord } from '../../../src/audit/audit.ts';
import type { AuthenticatorDouble } from '../../doubles/authenticator-double.ts';
import type { Loop } from '../../e2e/loop-fixture.ts';
import { button } from '../ntfy-fixture.ts';

/** `airlock passkey register` → the page's register mode (the double) → `airlock passkey add`. */
export async function registerThroughCli(loop: Loop, key: AuthenticatorDouble, approver: string, origin: string): Promise<void> {
  const link = await loop.cli('passkey', 'register', '--approver', approver);
  assert.equal(link.code, 0, link.err);
  const url = /(https?:\/\/\S+)/.exec(link.out)?.[1];
  assert.ok(url, link.out);
  const request = JSON.parse(Buffer.from(new URL(url).hash.replace(/^#r=/, ''), 'base64url').toString()) as { approver: string; nonce: string; rpId: string };
  assert.equal(request.approver, approver);
  const file = path.join(loop.root, `registration-${approver}-${key.id.slice(0, 8)}.json`);
  const response = key.register(registrationChallenge(approver, request.nonce), request.rpId, origin);
  await writeFile(file, JSON.stringify({ v: 1, kind: REGISTRATION_KIND, approver, nonce: request.nonce, response }));
  const added = await loop.cli('passkey', 'add', '--approver', approver, file);
  assert.equal(added.code, 0, added.err);
}

export interface ReviewPayload {
  run: string;
  sha: string;
  ws: string;
  plan: string;
  nonce: string;
  server: string;
  topic: string;
  token: string;
  rp: string;
  phase: string;
  changes: Array<[string, string]>;
  [k: string]: unknown;
}

/** The Review link of a request and what its fragment carries. */
export function reviewOf(message: NtfyEvent): { url: string; payload: ReviewPayload } {
  const url = button(message, /^Review/).url!;
  const hash = new URL(url).hash;
  assert.match(hash, /^#a=[A-Za-z0-9_-]+$/);
  return { url, payload: JSON.parse(Buffer.from(hash.slice(3), 'base64url').toString()) as ReviewPayload };
}

/** The facts the runner expects signed for this request. */
export function factsOf(p: ReviewPayload, decision: 'approve' | 'deny' = 'approve'): ChallengeFacts {
  return { runId: p.run, sha: p.sha, workspace: p.ws, planSha256: p.plan, decision, nonceSha256: hashToken(p.nonce) };
}

/** Rewrite a chain file through `edit`, then recompute every prev and hash, so the chain verifies again. */
export async function rewriteChain(file: string, edit: (record: AuditRecord) => AuditRecord): Promise<void> {
  const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
  let prev: string | null = null;
  const out: string[] = [];
  for (const line of lines) {
    const { hash: _old, ...rest } = edit(JSON.parse(line) as AuditRecord);
    const unsealed = { ...rest, prev: prev ?? rest.prev };
    const hash = hashRecord(unsealed);
    out.push(JSON.stringify({ ...unsealed, hash }));
    prev = hash;
  }
  await writeFile(file, `${out.join('\n')}\n`);
}
