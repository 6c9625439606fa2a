// `airlock doctor` for the ntfy channel: token files, the server, that nobody without a token can read a
// notify topic or write a reply topic, and every ACL grant the runner and the phones need, each failure
// with the line that fixes it. It publishes one silent message (priority min) per notify topic and one
// probe per reply topic, which the runner notes and ignores. About 7 requests per approver, drawn from
// the same per-address budget as the runner's own (request-budget.ts).
import type { ApprovalSlice } from './config.ts';
import { Scrubber } from '../log/scrub.ts';
import type { ApproverConfig, NtfyConfig } from './config.ts';
import { AUTH_LOCKOUT_HINT, NtfyError } from './errors.ts';
import type { NtfyClient } from './ntfy-client.ts';
import { describeExposure, OPEN_SERVER_FIX } from './ntfy-exposure.ts';
import { clientFor } from './open-channel.ts';
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
export async function checkNtfy(loaded: ApprovalSlice): Promise<NtfyCheck[]> {
  const ntfy = loaded.config.approval.ntfy;
  if (loaded.config.approval.channel !== 'ntfy' || !ntfy) return [];
  const checks: NtfyCheck[] = [];
  const tokens = await readTokens(ntfy, loaded.file, checks);
  const client = clientFor(ntfy);
  const insecure = /^http:\/\//.test(ntfy.url) && !/^http:\/\/(127\.|localhost|\[::1\])/.test(ntfy.url);
  try {
    await client.health();
    checks.push({ name: 'ntfy server', ok: true, warn: insecure, detail: `${ntfy.url} answers`, ...(insecure ? { fix: 'serve ntfy over https: tokens and nonces cross the network in every request' } : {}) });
  } catch (err) {
    checks.push({ name: 'ntfy server', ok: false, detail: `${ntfy.url}: ${(err as Error).message}`, fix: 'check `approval.ntfy.url`, DNS and the runner host\'s egress rules (deploy/egress.nft)' });
    return checks;
  }
  for (const a of ntfy.approvers) checks.push(...(await anonymousChecks(client, a, ntfy.unsafeAllowAnonymousAccess)));
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
    checks.push(await expect(`ntfy reply ${a.name}`, () => client.post(a.replyTopic, JSON.stringify(DOCTOR_PROBE), token), `${a.name}'s phone may reply on ${a.replyTopic}`, grant(`${a.name}'s reply user`, a.replyTopic, 'write-only'), a.replyTokenFile));
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
    if (err instanceof NtfyError && err.authLockout) return { name, ok: false, detail: 'ntfy locked out this address after too many failed logins (429, 42909): every request with a token is refused, valid ones included, so this grant cannot be checked now', fix: AUTH_LOCKOUT_HINT };
    if (err instanceof NtfyError && err.status === 401) return { name, ok: false, detail: `the server does not know the token in ${tokenFile} (401, 40101)`, fix: `create a token for the user (\`ntfy token add USER\`) and write it to ${tokenFile}` };
    if (err instanceof NtfyError && err.status === 403) return { name, ok: false, detail: 'the token is valid but has no access to the topic (403, 40301)', fix };
    return { name, ok: false, detail: (err as Error).message, fix: (err as { hint?: string }).hint ?? 'see the ntfy server log' };
  }
}

async function mustNotRead(client: NtfyClient, topic: string, token: string, who: string, want: string): Promise<NtfyCheck> {
  const name = `ntfy ${who} token scope`;
  try {
    return (await client.canRead(topic, token))
      ? { name, ok: true, warn: true, detail: `the ${who} token can also read ${topic}`, fix: `grant it ${want} on ${topic} only: a token that can read a topic can fetch its cached nonces` }
      : { name, ok: true, detail: `the ${who} token cannot read ${topic}` };
  } catch (err) {
    return err instanceof NtfyError && err.status === 401
      ? { name, ok: true, detail: `the ${who} token cannot read ${topic}` }
      : { name, ok: true, warn: true, detail: `could not tell whether the ${who} token can read ${topic}: ${(err as Error).message}`, ...(err instanceof NtfyError && err.authLockout ? { fix: AUTH_LOCKOUT_HINT } : {}) };
  }
}

/** Fails when anyone without a token can read the approver's notify topic or write their reply topic. */
async function anonymousChecks(client: NtfyClient, a: ApproverConfig, override: boolean): Promise<NtfyCheck[]> {
  const unsafe = override ? ' (`approval.ntfy.unsafeAllowAnonymousAccess` is set: the runner starts anyway)' : '';
  const check = async (name: string, open: () => Promise<boolean>, kind: 'read' | 'write', topic: string): Promise<NtfyCheck> => {
    try {
      return (await open())
        ? { name, ok: false, detail: `${describeExposure({ approver: a.name, topic, kind })}${unsafe}`, fix: OPEN_SERVER_FIX }
        : { name, ok: true, detail: `refused without a token (403)` };
    } catch (err) {
      return { name, ok: false, detail: `could not tell whether anyone may ${kind} ${topic}: ${(err as Error).message}`, fix: (err as { hint?: string }).hint ?? 'see the ntfy server log' };
    }
  };
  return [
    await check(`ntfy anonymous read ${a.notifyTopic}`, () => client.canRead(a.notifyTopic, null), 'read', a.notifyTopic),
    await check(`ntfy anonymous write ${a.replyTopic}`, () => client.canWrite(a.replyTopic, null, JSON.stringify(DOCTOR_PROBE)), 'write', a.replyTopic),
  ];
}

function grant(user: string, topic: string, access: string): string {
  return `on the ntfy server: \`ntfy access <${user}> ${topic} ${access}\` (with auth-default-access: deny-all; see deploy/ntfy/)`;
}
