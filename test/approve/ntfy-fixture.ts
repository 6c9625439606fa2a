// An ntfy server for a test: the double (default), or a real server when AIRLOCK_TEST_NTFY_URL and the
// token variables are set (see test/doubles/README.md for the ACLs they need). Either way the topics are
// fresh per test, and the phone is played exactly: read the notify topic, perform the button's request.
// On the double the phone has an address of its own (X-Forwarded-For behind the double's "proxy"), which
// is exempt from the request limit as the test host must be on a real test server; the runner, on
// 127.0.0.1, meets ntfy's default per-address limits.
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { NtfyAction, NtfyEvent } from '../../src/ntfy/client.ts';
import { startNtfyDouble, type NtfyDouble, type NtfyDoubleOptions } from '../doubles/ntfy-double.ts';

export const REAL_NTFY_URL = process.env['AIRLOCK_TEST_NTFY_URL'];
/** The phone's address as the double sees it (documentation range, RFC 5737). */
export const PHONE_IP = '192.0.2.10';
export const usingRealNtfy = REAL_NTFY_URL !== undefined && REAL_NTFY_URL !== '';

const ROLES = ['publish', 'subscribe', 'phone', 'alice', 'bob'] as const;
type Role = (typeof ROLES)[number];
const ENV: Record<Role, string> = {
  publish: 'AIRLOCK_TEST_NTFY_PUBLISH_TOKEN',
  subscribe: 'AIRLOCK_TEST_NTFY_SUBSCRIBE_TOKEN',
  phone: 'AIRLOCK_TEST_NTFY_PHONE_TOKEN',
  alice: 'AIRLOCK_TEST_NTFY_ALICE_TOKEN',
  bob: 'AIRLOCK_TEST_NTFY_BOB_TOKEN',
};

export interface NtfyUnderTest {
  url: string;
  /** null against a real server: tests that need the double's switches skip themselves. */
  double: NtfyDouble | null;
  tokens: Record<Role, string>;
  topics: Record<'alice' | 'bob', { notify: string; reply: string }>;
  tokenDir: string;
  /** The `approval` section of a runner config using this server (token files written 0600). */
  approvalSection(extra?: Record<string, unknown>, approvers?: Array<'alice' | 'bob'>): Record<string, unknown>;
  /** Everything published to an approver's notify topic, read as their phone reads it. */
  notifications(approver: 'alice' | 'bob'): Promise<NtfyEvent[]>;
  /** Perform a button's request exactly as published. */
  tap(action: NtfyAction): Promise<Response>;
  /** Run `fn` (stop a runner) before the server goes away, so no client is left retrying a closed port. */
  beforeClose(fn: () => Promise<unknown>): void;
}

/** Fresh topics and tokens on the double or the real server; torn down after the test. */
export async function ntfyUnderTest(t: TestContext, opts: { keepaliveMs?: number; double?: Partial<NtfyDoubleOptions> } = {}): Promise<NtfyUnderTest> {
  const suffix = randomBytes(6).toString('hex');
  const topics = {
    alice: { notify: `airlocktest-alice-notify-${suffix}`, reply: `airlocktest-alice-reply-${suffix}` },
    bob: { notify: `airlocktest-bob-notify-${suffix}`, reply: `airlocktest-bob-reply-${suffix}` },
  };
  let tokens: Record<Role, string>;
  let double: NtfyDouble | null = null;
  let url: string;
  if (usingRealNtfy) {
    const missing = ROLES.filter((r) => !process.env[ENV[r]]);
    if (missing.length > 0) throw new Error(`AIRLOCK_TEST_NTFY_URL is set but ${missing.map((r) => ENV[r]).join(', ')} are not`);
    tokens = Object.fromEntries(ROLES.map((r) => [r, process.env[ENV[r]]!])) as Record<Role, string>;
    url = REAL_NTFY_URL!.replace(/\/+$/, '');
  } else {
    tokens = Object.fromEntries(ROLES.map((r) => [r, `tk_${randomBytes(15).toString('hex').slice(0, 29)}`])) as Record<Role, string>;
    // The same ACLs a real test server is given (test/doubles/README.md), deny-all by default.
    double = await startNtfyDouble({
      tokens: Object.fromEntries(ROLES.map((r) => [tokens[r], r])),
      acl: [
        { user: 'publish', topic: 'airlocktest-*-notify-*', access: 'write-only' },
        { user: 'subscribe', topic: 'airlocktest-*-reply-*', access: 'read-only' },
        { user: 'phone', topic: 'airlocktest-*-notify-*', access: 'read-only' },
        { user: 'alice', topic: 'airlocktest-alice-reply-*', access: 'write-only' },
        { user: 'bob', topic: 'airlocktest-bob-reply-*', access: 'write-only' },
      ],
      defaultAccess: 'deny-all',
      keepaliveMs: opts.keepaliveMs ?? 45_000,
      behindProxy: true,
      limits: { exemptHosts: [PHONE_IP] },
      ...opts.double,
    });
    url = double.url;
  }
  const tokenDir = await mkdtemp(path.join(tmpdir(), 'airlock-ntfy-tokens-'));
  for (const role of ROLES) {
    const file = path.join(tokenDir, `${role}.token`);
    await writeFile(file, `${tokens[role]}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
  }
  const closing: Array<() => Promise<unknown>> = [];
  t.after(async () => {
    for (const fn of closing) await fn().catch(() => undefined);
    await double?.close();
    await rm(tokenDir, { recursive: true, force: true });
  });
  const asPhone: Record<string, string> = double ? { 'X-Forwarded-For': PHONE_IP } : {};
  return {
    url,
    double,
    tokens,
    topics,
    tokenDir,
    approvalSection(extra = {}, approvers = ['alice', 'bob']) {
      return {
        channel: 'ntfy',
        ttl: '15m',
        ntfy: {
          url,
          publishTokenFile: path.join(tokenDir, 'publish.token'),
          subscribeTokenFile: path.join(tokenDir, 'subscribe.token'),
          approvers: approvers.map((name) => ({ name, notifyTopic: topics[name].notify, replyTopic: topics[name].reply, replyTokenFile: path.join(tokenDir, `${name}.token`) })),
        },
        ...extra,
      };
    },
    async notifications(approver) {
      const res = await fetch(`${url}/${topics[approver].notify}/json?poll=1&since=all`, { headers: { Authorization: `Bearer ${tokens.phone}`, ...asPhone } });
      if (!res.ok) throw new Error(`the phone's poll: HTTP ${res.status} ${await res.text()}`);
      return (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as NtfyEvent).filter((e) => e.event === 'message');
    },
    async tap(action) {
      return fetch(action.url!, { method: action.method ?? 'POST', headers: { ...action.headers, ...asPhone }, body: action.body });
    },
    beforeClose(fn) {
      closing.push(fn);
    },
  };
}

/** The button labelled `label` on a notification. */
export function button(message: NtfyEvent, label: string | RegExp): NtfyAction {
  const found = (message.actions ?? []).find((a) => (typeof label === 'string' ? a.label === label : label.test(a.label)));
  if (!found) throw new Error(`no button ${String(label)} on "${message.title}" (buttons: ${(message.actions ?? []).map((a) => a.label).join(', ')})`);
  return found;
}
