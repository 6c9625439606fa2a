// Publishing a witnessed chain head to an ntfy topic: one JSON POST to the server root (ntfy's JSON
// publish). Kept tiny and self-contained; the approval channel's ntfy client lives in src/approve.
import { AirlockError } from '../errors.ts';

export interface NtfyWitnessTarget {
  url: string;
  topic: string;
  /** The access token's value (read from the env var named in the config), if the topic needs one. */
  token?: string;
}

const TIMEOUT_MS = 10_000;

/** Publish `message` to the witness topic; throws an AirlockError naming ntfy's error code on failure. */
export async function publishWitness(target: NtfyWitnessTarget, title: string, message: string): Promise<void> {
  // JSON publishing goes to the server root (protocols.md), which may sit under a path behind a proxy.
  const endpoint = target.url.endsWith('/') ? target.url : `${target.url}/`;
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(target.token ? { authorization: `Bearer ${target.token}` } : {}) },
    body: JSON.stringify({ topic: target.topic, title, message, tags: ['lock'], priority: 2 }),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (response.ok) {
    await response.body?.cancel();
    return;
  }
  const body = (await response.json().catch(() => ({}))) as { code?: number; error?: string };
  throw new AirlockError('airlock:witness-publish', `ntfy refused the witness message: HTTP ${response.status}${body.code ? ` (${body.code} ${body.error ?? ''})` : ''}`, {
    hint: response.status === 401 || response.status === 403 ? 'Check the token named by `audit.witness.ntfy.tokenEnv` and its write access to the topic.' : 'The head is still in the log line; check the ntfy server.',
  });
}
