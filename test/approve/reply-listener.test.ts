// The reply listener against the double's switches: 401/403 explained and survived, 429 backed off, a
// lockout after failed logins named, garbage and unknown events ignored, a silent stream replaced, and
// every message handled exactly once, whatever the server sends twice.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import type { NtfyEvent } from '../../src/ntfy/client.ts';
import { createNtfyClient } from '../../src/ntfy/client.ts';
import { ReplyCursor } from '../../src/approve/ntfy/reply-cursor.ts';
import { createReplyListener } from '../../src/approve/ntfy/reply-listener.ts';
import { ReplyWatermark } from '../../src/approve/ntfy/reply-watermark.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startNtfyDouble, type NtfyDouble } from '../doubles/ntfy-double.ts';
import { CapturedLog, deletePrefix, REDIS_URL, testPrefix, waitFor } from '../support/harness.ts';

const TOPIC = 'airlocktest-alice-reply-x';

const ntfyToken = () => `tk_${randomBytes(15).toString('hex').slice(0, 29)}`;

async function setup(t: TestContext, opts: { subscriberToken?: string; grant?: boolean; keepaliveTimeoutMs?: number; failFirst?: number; topics?: string[] } = {}) {
  const token = ntfyToken();
  const writer = ntfyToken();
  const topics = opts.topics ?? [TOPIC];
  // A deny-all server (deploy/ntfy/server.yml), so a missing grant is a 403.
  const double: NtfyDouble = await startNtfyDouble({
    tokens: { [token]: 'subscribe', [writer]: 'alice' },
    acl: topics.flatMap((topic) => [...(opts.grant === false ? [] : [{ user: 'subscribe', topic, access: 'read-only' as const }]), { user: 'alice', topic, access: 'write-only' as const }]),
    defaultAccess: 'deny-all',
  });
  const prefix = testPrefix();
  const redis = new Redis(REDIS_URL);
  const captured = new CapturedLog();
  const handled: NtfyEvent[] = [];
  let failures = opts.failFirst ?? 0;
  const cursor = new ReplyCursor(redis, prefix);
  const watermark = new ReplyWatermark(redis, prefix);
  const listener = createReplyListener({
    client: createNtfyClient(double.url, { budget: null }),
    token: opts.subscriberToken ?? token,
    topics,
    cursor,
    watermark,
    firstSince: () => 'all',
    handle: async (_topic, message) => {
      if (failures > 0) {
        failures--;
        throw new Error('redis hiccup');
      }
      handled.push(message);
    },
    log: createLogger({ level: 'debug', destination: captured.stream, pretty: false }),
    keepaliveTimeoutMs: opts.keepaliveTimeoutMs ?? 60_000,
    backoff: { initialMs: 20, maxMs: 100, forbiddenMs: 50, rateLimitedMs: 50 },
  });
  listener.start();
  t.after(async () => {
    await listener.stop();
    await double.close();
    redis.disconnect();
    await deletePrefix(prefix);
  });
  const post = async (body: string, topic = TOPIC) => {
    const r = await fetch(`${double.url}/${topic}`, { method: 'POST', headers: { Authorization: `Bearer ${writer}` }, body });
    assert.equal(r.status, 200);
    return ((await r.json()) as { id: string }).id;
  };
  const subscriptions = () => double.requests.filter((r) => r.path === `/${TOPIC}/json`);
  return { double, listener, captured, handled, post, subscriptions, cursor, watermark, redis, prefix, token };
}

test('401 and 403 are logged with what to fix, retried, and the stream comes up once the ACL is right', async (t) => {
  const unknown = ntfyToken();
  const s = await setup(t, { subscriberToken: unknown, grant: false });
  await waitFor('a 401 logged', async () => s.captured.raw.includes('40101'));
  assert.match(s.captured.raw, /airlock doctor/);
  s.double.addToken(unknown, 'subscribe');
  await waitFor('a 403 logged', async () => s.captured.raw.includes('40301'));
  assert.match(s.captured.raw, /ntfy access USER TOPIC read-only/);
  s.double.grant({ user: 'subscribe', topic: TOPIC, access: 'read-only' });
  await s.listener.waitConnected();
  await s.post('after the fix');
  await waitFor('the message handled', async () => s.handled.length === 1);
  assert.ok(!s.captured.raw.includes(unknown), 'the token itself is never logged');
});

test('429 backs off, then the stream comes up again', async (t) => {
  const s = await setup(t);
  await s.listener.waitConnected();
  s.double.limitRequests({ burst: 0, replenishMs: 60_000 });
  s.double.dropConnections();
  await waitFor('a 429 logged', async () => s.captured.raw.includes('rate limiting the reply stream'));
  s.double.limitRequests(null);
  await s.listener.waitConnected();
  await s.post('hello');
  await waitFor('the message handled', async () => s.handled.length === 1);
});

test('garbage lines and unknown event types are ignored; the next message is still handled', async (t) => {
  const s = await setup(t);
  await s.listener.waitConnected();
  s.double.injectLine(TOPIC, 'this is not json');
  s.double.injectLine(TOPIC, '{"event":"poll_request","id":"abcdefabcdef","topic":"x"}');
  s.double.injectLine(TOPIC, '{"event":"message"}');
  s.double.injectLine(TOPIC, '\x1b[31m{{{');
  await s.post('real');
  await waitFor('the real message handled', async () => s.handled.length === 1);
  assert.equal(s.handled[0]?.message, 'real');
  assert.match(s.captured.raw, /not an ntfy event/);
  assert.doesNotMatch(s.captured.raw, /\\u001b\[31m/, 'the garbage is logged with its control characters made visible');
  assert.equal(s.subscriptions().length, 1, 'no reconnect was needed');
});

test('a stream that goes silent past the keepalive timeout is replaced', async (t) => {
  const s = await setup(t, { keepaliveTimeoutMs: 150 });
  await waitFor('several reconnects', async () => s.subscriptions().length >= 3);
  assert.match(s.captured.raw, /silent past the keepalive timeout/);
  await s.listener.waitConnected();
  await s.post('still heard');
  await waitFor('handled', async () => s.handled.length === 1);
});

test('each message is handled once: across a reconnect, a lost resume mark, and a handler that failed once', async (t) => {
  const s = await setup(t, { failFirst: 1 });
  await s.listener.waitConnected();
  await s.post('one');
  await waitFor('handled after the failed attempt and a reconnect', async () => s.handled.length === 1);
  assert.ok(s.subscriptions().length >= 2, 'the failure made the listener re-read the stream');
  const handledAt = (await s.watermark.get([TOPIC])).get(TOPIC);
  assert.equal(handledAt, s.handled[0]?.time, 'the stream resumes from the time of the newest handled reply');
  await s.post('two');
  await waitFor('two handled', async () => s.handled.length === 2);
  // A reconnect resumes a margin before the newest handled reply: both come again and are dropped.
  s.double.dropConnections();
  await waitFor('reconnected', async () => s.subscriptions().length >= 3 && s.listener.connected());
  const since = Number(s.subscriptions().at(-1)?.query['since']);
  assert.ok(since <= s.handled[0]!.time! && since >= s.handled[0]!.time! - 60, `resumed at ${since}, within a minute before the newest handled reply`);
  // The mark is lost (say, a Redis restore): the server replays its whole cache, nothing runs twice.
  await s.redis.del(`${s.prefix}:ntfy:handled-at:${TOPIC}`);
  s.double.dropConnections();
  await waitFor('reconnected with since=all', async () => s.subscriptions().at(-1)?.query['since'] === 'all');
  await s.listener.waitConnected();
  await s.post('three');
  await waitFor('three handled', async () => s.handled.length === 3);
  // The server sends a message twice when one lands while a stream subscribes (server.go, handleSubscribeHTTP).
  s.double.raceNextSubscription();
  s.double.dropConnections();
  await waitFor('reconnected after the race', async () => s.subscriptions().length >= 5 && s.listener.connected());
  await s.post('four');
  await waitFor('four handled', async () => s.handled.length === 4);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(s.handled.map((m) => m.message), ['one', 'two', 'three', 'four']);
  assert.match(s.captured.raw, /reply already handled/, 'the copies came and were dropped');
});

test('a lockout after failed logins (42909) is named in the log, not taken for rate limiting', async (t) => {
  const s = await setup(t);
  await s.listener.waitConnected();
  // Another process on the runner host keeps sending a revoked token: 30 failures lock the address out.
  const stale = ntfyToken();
  for (let i = 0; i < 30; i++) await fetch(`${s.double.url}/${TOPIC}/json?poll=1`, { headers: { Authorization: `Bearer ${stale}` } });
  s.double.dropConnections();
  await waitFor('the lockout logged', async () => s.captured.raw.includes('ntfy.auth_lockout'));
  assert.match(s.captured.raw, /locked out after too many failed logins \(42909\), valid tokens included/);
  assert.doesNotMatch(s.captured.raw, /rate limiting the reply stream/);
  assert.equal(s.listener.connected(), false, 'the valid subscriber token is refused too');
  assert.ok(s.double.requests.some((r) => r.user === null && r.code === 42909), 'the double refused the runner\'s valid token with 42909');
});

test('several reply topics share one stream, and a message names its topic', async (t) => {
  const topics = Array.from({ length: 5 }, (_, i) => `airlocktest-a${i}-reply-x`);
  const s = await setup(t, { topics });
  await s.listener.waitConnected();
  assert.equal(s.double.subscriberCount(), 1, 'one stream for all five topics');
  assert.equal(s.double.requests.filter((r) => r.path === `/${topics.join(',')}/json`).length, 1);
  for (const topic of [topics[4]!, topics[0]!]) await s.post(`to ${topic}`, topic);
  await waitFor('both heard', async () => s.handled.length === 2);
  assert.deepEqual(s.handled.map((m) => [m.topic, m.message]), [[topics[4], `to ${topics[4]}`], [topics[0], `to ${topics[0]}`]]);
});
