// `airlock doctor` for the ntfy channel: token files, the server, and every ACL grant the runner and the
// phones need, each failure with the `ntfy access` line that fixes it. It publishes one silent message
// (priority min) per notify topic and one probe per reply topic, which the runner notes and ignores.
import type { LoadedConfig } from '../config/load.ts';
import { Scrubber } from '../log/scrub.ts';
import type { NtfyConfig } from './config.ts';
import { NtfyError } from './errors.ts';
import { createNtfyClient, type NtfyClient } from './ntfy-client.ts';
import { DOCTOR_PROBE } from './reply.ts';
import { readTokenFile, resolveTokenFile } from './token-files.ts';

export interface NtfyCheck {
  name: string;
  ok: boolean;
  warn?: boolean;
  detail: string;
  fix?: string;
}

/** Every ntfy check for a config whose approval channel is ntfy; none otherwise. */
export async function checkNtfy(loaded: LoadedConfig): Promise<NtfyCheck[]> {
  const ntfy = loaded.config.approval.ntfy;
  if (loaded.config.approval.channel !== 'ntfy' || !ntfy) return [];
  const checks: NtfyCheck[] = [];
  const tokens = await readTokens(ntfy, loaded.file, checks);
  const client = createNtfyClient(ntfy.url);
  const insecure = /^http:\/\//.test(ntfy.url) && !/^http:\/\/(127\.|localhost|\[::1\])/.test(ntfy.url);
  try {
    await client.health();
    checks.push({ name: 'ntfy server', ok: true, warn: insecure, detail: `${ntfy.url} answers`, ...(insecure ? { fix: 'serve ntfy over https: tokens and nonces cross the network in every request' } : {}) });
  } catch (err) {
    checks.push({ name: 'ntfy server', ok: false, detail: `${ntfy.url}: ${(err as Error).message}`, fix: 'check `approval.ntfy.url`, DNS and the runner host\'s egress rules (deploy/egress.nft)' });
    return checks;
  }
  if (tokens.subscribe) {
    for (const a of ntfy.approvers) checks.push(await expect(`ntfy subscribe ${a.replyTopic}`, () => client.poll(a.replyTopic, tokens.subscribe!, 'none'), 'the runner may read it', grant('the runner\'s subscriber user', a.replyTopic, 'read-only'), ntfy.subscribeTokenFile));
  }
  if (tokens.publish) {
    for (const a of ntfy.approvers) {
      checks.push(await expect(`ntfy publish ${a.notifyTopic}`, () => client.publish({ topic: a.notifyTopic, title: 'airlock doctor', message: `Runner check: approval requests for ${a.name} will arrive here.`, priority: 1, tags: ['white_check_mark'], markdown: false }, tokens.publish!), `the runner may publish (a silent test message was sent to ${a.name})`, grant('the runner\'s publisher user', a.notifyTopic, 'write-only'), ntfy.publishTokenFile));
      checks.push(await mustNotRead(client, a.notifyTopic, tokens.publish, 'publisher', 'write-only'));
    }
  }
  for (const a of ntfy.approvers) {
    const token = tokens.replies.get(a.name);
    if (!token) continue;
    checks.push(await expect(`ntfy reply ${a.name}`, () => fetch(`${ntfy.url}/${a.replyTopic}`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify(DOCTOR_PROBE), signal: AbortSignal.timeout(15_000) }).then(asNtfyResult), `${a.name}'s phone may reply on ${a.replyTopic}`, grant(`${a.name}'s reply user`, a.replyTopic, 'write-only'), a.replyTokenFile));
    checks.push(await mustNotRead(client, a.replyTopic, token, `${a.name}'s reply`, 'write-only'));
  }
  return checks;
}

async function readTokens(ntfy: NtfyConfig, configFile: string, checks: NtfyCheck[]) {
  // A private scrubber: doctor only needs the values for this run of checks.
  const scrubber = new Scrubber();
  const read = async (name: string, file: string): Promise<string | null> => {
    try {
      const token = await readTokenFile(resolveTokenFile(file, configFile), scrubber);
      checks.push({ name, ok: true, detail: `${file} (readable by the runner user only)` });
      return token;
    } catch (err) {
      checks.push({ name, ok: false, detail: (err as Error).message, fix: (err as { hint?: string }).hint });
      return null;
    }
  };
  const publish = await read('ntfy publisher token', ntfy.publishTokenFile);
  const subscribe = await read('ntfy subscriber token', ntfy.subscribeTokenFile);
  const replies = new Map<string, string>();
  for (const a of ntfy.approvers) {
    const token = await read(`ntfy reply token ${a.name}`, a.replyTokenFile);
    if (token) replies.set(a.name, token);
  }
  return { publish, subscribe, replies };
}

async function expect(name: string, call: () => Promise<unknown>, okDetail: string, fix: string, tokenFile: string): Promise<NtfyCheck> {
  try {
    await call();
    return { name, ok: true, detail: okDetail };
  } catch (err) {
    if (err instanceof NtfyError && err.status === 401) return { name, ok: false, detail: `the server does not know the token in ${tokenFile} (401, 40101)`, fix: `create a token for the user (\`ntfy token add USER\`) and write it to ${tokenFile}` };
    if (err instanceof NtfyError && err.status === 403) return { name, ok: false, detail: 'the token is valid but has no access to the topic (403, 40301)', fix };
    return { name, ok: false, detail: (err as Error).message, fix: (err as { hint?: string }).hint ?? 'see the ntfy server log' };
  }
}

async function mustNotRead(client: NtfyClient, topic: string, token: string, who: string, want: string): Promise<NtfyCheck> {
  const name = `ntfy ${who} token scope`;
  try {
    await client.poll(topic, token, 'none');
    return { name, ok: true, warn: true, detail: `the ${who} token can also read ${topic}`, fix: `grant it ${want} on ${topic} only: a token that can read a topic can fetch its cached nonces` };
  } catch (err) {
    return err instanceof NtfyError && (err.status === 403 || err.status === 401)
      ? { name, ok: true, detail: `the ${who} token cannot read ${topic}` }
      : { name, ok: true, warn: true, detail: `could not tell whether the ${who} token can read ${topic}: ${(err as Error).message}` };
  }
}

function grant(user: string, topic: string, access: string): string {
  return `on the ntfy server: \`ntfy access <${user}> ${topic} ${access}\` (with auth-default-access: deny-all; see deploy/ntfy/)`;
}

async function asNtfyResult(res: Response): Promise<void> {
  if (res.ok) return;
  const body = (await res.json().catch(() => ({}))) as { code?: number; error?: string };
  throw new NtfyError('reply probe', res.status, body.code ?? null, body.error ?? res.statusText);
}
