// ntfy's policy, which the double plays from ntfy's source (test/doubles/README.md cites each function):
// open defaults, ACL precedence, per-address limits (requests, subscriptions, failed logins), message
// sizes and the smaller rules. Tests that need a server configured a particular way use the double only;
// the rest also run against AIRLOCK_TEST_NTFY_URL.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { NtfyError } from '../../src/approve/errors.ts';
import { createNtfyClient, type NtfyEvent } from '../../src/ntfy/client.ts';
import { accessFor, type AclEntry } from '../doubles/ntfy-double/acl.ts';
import { DEFAULT_LIMITS } from '../doubles/ntfy-double/limits.ts';
import { startNtfyDouble, type NtfyDoubleOptions } from '../doubles/ntfy-double.ts';
import { waitFor } from '../support/harness.ts';
import { ntfyUnderTest } from './ntfy-fixture.ts';

const token = () => `tk_${randomBytes(15).toString('hex').slice(0, 29)}`;

async function double(t: TestContext, options: NtfyDoubleOptions = {}) {
  const d = await startNtfyDouble(options);
  t.after(() => d.close());
  return d;
}

const failure = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as NtfyError);

test('at its defaults ntfy is open: no auth file, no auth at all; with one, read-write for everyone', async (t) => {
  for (const options of [{}, { tokens: { [token()]: 'someone' } }]) {
    const d = await double(t, options);
    const client = createNtfyClient(d.url, { budget: null });
    assert.equal(await client.canRead('alice-notify', null), true, 'anyone reads the nonces');
    assert.equal(await client.canWrite('alice-reply', null, 'probe'), true, 'anyone answers');
    assert.deepEqual(d.messages('alice-reply'), [], 'the write probe stored nothing');
  }
  const closed = await double(t, { tokens: { [token()]: 'someone' }, defaultAccess: 'deny-all' });
  const client = createNtfyClient(closed.url, { budget: null });
  assert.equal(await client.canRead('alice-notify', null), false);
  assert.equal(await client.canWrite('alice-reply', null, 'probe'), false);
});

test('the same probes see a deny-all server closed, and a token see its own grant (double or real server)', async (t) => {
  const ntfy = await ntfyUnderTest(t);
  const client = createNtfyClient(ntfy.url);
  assert.equal(await client.canRead(ntfy.topics.alice.notify, null), false);
  assert.equal(await client.canWrite(ntfy.topics.alice.reply, null, 'probe'), false);
  assert.equal(await client.canRead(ntfy.topics.alice.notify, ntfy.tokens.phone), true);
  assert.equal(await client.canWrite(ntfy.topics.alice.reply, ntfy.tokens.alice, 'probe'), true);
  assert.equal(await client.canWrite(ntfy.topics.alice.reply, ntfy.tokens.bob, 'probe'), false);
  assert.deepEqual(await client.poll(ntfy.topics.alice.reply, ntfy.tokens.subscribe), [], 'no probe was stored');
});

test('ACL precedence: the user\'s rows before everyone\'s, then the longest pattern, then write; case is ignored', () => {
  const acl: AclEntry[] = [
    { user: '*', topic: 'team-alerts', access: 'read-write' },
    { user: 'alice', topic: 'team-*', access: 'read-only' },
    { user: 'bob', topic: 'team-*', access: 'deny' },
    { user: 'bob', topic: 'team-al*', access: 'write-only' },
    { user: 'carol', topic: 'x-*', access: 'read-only' },
    { user: 'carol', topic: '*-y', access: 'write-only' },
    { user: 'dave', topic: 'a_c', access: 'read-only' },
    { user: 'dave', topic: 'a*', access: 'write-only' },
  ];
  const rows: Array<[string | null, string, string]> = [
    ['alice', 'team-alerts', 'read-only'], // her own row, though everyone's is exact
    [null, 'team-alerts', 'read-write'],
    ['bob', 'team-alerts', 'write-only'], // his longer pattern
    ['bob', 'team-other', 'deny'],
    ['alice', 'TEAM-ALERTS', 'read-only'], // LIKE ignores case: a grant covers every spelling
    [null, 'Team-Alerts', 'read-write'],
    ['carol', 'x-y', 'write-only'], // same length: write first
    ['dave', 'a_c', 'read-only'], // `_` is literal, not LIKE's one-character wildcard
    ['dave', 'abc', 'write-only'],
    ['erin', 'anything', 'deny'], // no row: the default
  ];
  for (const [user, topic, access] of rows) assert.equal(accessFor(acl, 'deny-all', user, topic), access, `${user ?? 'anonymous'} on ${topic}`);
});

test('the same precedence over HTTP: a user row beats a deny to everyone, and case does not protect a topic', async (t) => {
  const alice = token();
  const d = await double(t, { tokens: { [alice]: 'alice' }, defaultAccess: 'deny-all', acl: [{ user: '*', topic: 'airlock-alice-notify', access: 'deny' }, { user: 'alice', topic: 'airlock-*', access: 'read-only' }] });
  const client = createNtfyClient(d.url, { budget: null });
  assert.equal(await client.canRead('airlock-alice-notify', alice), true, 'her broader row wins over the exact deny to everyone');
  assert.equal(await client.canRead('AIRLOCK-ALICE-NOTIFY', alice), true, 'a different topic, the same grant');
  assert.equal(await client.canRead('Airlock-Alice-Notify', null), false);
});

test('after 30 failed logins an address gets 42909 on every request with a token, valid ones too', async (t) => {
  const good = token();
  const d = await double(t, { tokens: { [good]: 'runner' }, behindProxy: true });
  const client = createNtfyClient(d.url, { budget: null });
  const attempts: number[] = [];
  for (let i = 0; i < 40; i++) attempts.push((await failure(client.poll('topic', token(), 'none')))!.ntfyCode!);
  const locked = attempts.indexOf(42909);
  // 30 tokens; AuthAllowed needs more than one: the 30th attempt finds 1 plus a little refill, the 31st less.
  assert.equal(locked, 30, `locked out after ${locked} failures`);
  assert.ok(attempts.slice(locked).every((c) => c === 42909), 'and stays locked');
  const refused = await failure(client.poll('topic', good, 'none'));
  assert.equal(refused?.ntfyCode, 42909, 'a valid token is refused too');
  assert.equal(refused?.code, 'airlock:ntfy-auth-lockout');
  assert.equal(refused?.transient, false, 'retrying soon does not help');
  assert.match(refused?.hint ?? '', /30 failed logins.*valid ones included.*one attempt through per minute/);
  assert.equal(await client.canRead('topic', null), true, 'a request without credentials is not affected');
  const elsewhere = await fetch(`${d.url}/topic/json?poll=1`, { headers: { Authorization: `Bearer ${good}`, 'X-Forwarded-For': '192.0.2.7' } });
  assert.equal(elsewhere.status, 200, 'another address is not affected');
});

test('a locked-out address gets one attempt per replenish interval', async (t) => {
  const good = token();
  const d = await double(t, { tokens: { [good]: 'runner' }, limits: { authFailures: { burst: 3, replenishMs: 200 } } });
  const client = createNtfyClient(d.url, { budget: null });
  for (let i = 0; i < 3; i++) await failure(client.poll('topic', token(), 'none'));
  assert.equal((await failure(client.poll('topic', good, 'none')))?.ntfyCode, 42909);
  await waitFor('the lockout to pass', async () => (await failure(client.poll('topic', good, 'none'))) === null);
});

test('one request bucket per address, for every user and anonymous alike; health is free; exempt hosts are not limited', async (t) => {
  assert.deepEqual(DEFAULT_LIMITS.requests, { burst: 60, replenishMs: 5_000 }, 'config.go DefaultVisitorRequestLimitBurst/Replenish');
  const [a, b] = [token(), token()];
  const d = await double(t, { tokens: { [a]: 'a', [b]: 'b' }, behindProxy: true, limits: { exemptHosts: ['192.0.2.99'] } });
  // The burst of 60, refilled slowly enough that a loaded machine cannot refill it during the test.
  d.limitRequests({ burst: 60, replenishMs: 3_600_000 });
  const client = createNtfyClient(d.url, { budget: null });
  for (let i = 0; i < 60; i++) await client.poll('topic', [a, b][i % 2]!, 'none');
  for (const who of [a, b, null]) {
    const err = await failure(who === null ? client.canRead('topic', null) : client.poll('topic', who, 'none'));
    assert.equal(err?.ntfyCode, 42901, `the 61st request, as ${who === null ? 'anonymous' : 'another user'}`);
  }
  assert.equal(await client.health(), true, 'GET /v1/health takes nothing from the bucket');
  for (let i = 0; i < 70; i++) {
    const res = await fetch(`${d.url}/topic/json?poll=1`, { headers: { 'X-Forwarded-For': '192.0.2.99' } });
    assert.equal(res.status, 200, 'an exempt host is never limited');
  }
});

test('the client paces itself inside the server\'s limit instead of meeting 429s', async (t) => {
  const spent = await double(t);
  spent.limitRequests({ burst: 4, replenishMs: 3_600_000 });
  const unpaced = createNtfyClient(spent.url, { budget: null });
  const codes: Array<number | null> = [];
  for (let i = 0; i < 6; i++) codes.push((await failure(unpaced.poll('topic', 'tk_ignored_without_an_auth_file_', 'none')))?.ntfyCode ?? null);
  assert.deepEqual(codes, [null, null, null, null, 42901, 42901], 'without a budget the burst runs out');
  const d = await double(t);
  d.limitRequests({ burst: 4, replenishMs: 150 });
  // Below the server's limit, with a margin for network jitter, as the runner's default is below ntfy's.
  const paced = createNtfyClient(d.url, { budget: { burst: 3, everyMs: 200 } });
  for (let i = 0; i < 10; i++) await paced.poll('topic', 'tk_ignored_without_an_auth_file_', 'none');
  // Another client at the same address (doctor, say) spends the bucket: the paced client cannot know until
  // it meets one 429, which empties its own budget; after that it waits its turn and meets none.
  const other = createNtfyClient(d.url, { budget: null });
  for (let i = 0; i < 20 && (await failure(other.poll('topic', 'x', 'none'))) === null; i++);
  const after: Array<number | null> = [];
  for (let i = 0; i < 8; i++) after.push((await failure(paced.poll('topic', 'tk_ignored_without_an_auth_file_', 'none')))?.ntfyCode ?? null);
  const refusals = after.filter((c) => c !== null);
  assert.ok(refusals.length <= 1 && refusals.every((c) => c === 42901), `one 429 at most, then none: ${JSON.stringify(after)}`);
});

test('at most 30 subscriptions per address; many topics on one stream count once', async (t) => {
  const d = await double(t);
  const client = createNtfyClient(d.url, { budget: null });
  const stop = new AbortController();
  t.after(() => stop.abort());
  const opened: string[] = [];
  const open = (topics: string | string[]) => {
    const done = client.stream(topics, token(), { signal: stop.signal, onEvent: async (e: NtfyEvent) => void (e.event === 'open' && opened.push(String(e.topic))) }).catch((e: unknown) => e);
    return done;
  };
  const many = Array.from({ length: 40 }, (_, i) => `reply-${i}`);
  void open(many);
  for (let i = 0; i < 29; i++) void open(`single-${i}`);
  await waitFor('30 streams open', async () => opened.length === 30);
  assert.equal(d.subscriptionsOf('127.0.0.1'), 30);
  const refused = (await open('one-more')) as NtfyError;
  assert.equal(refused.ntfyCode, 42903);
  assert.equal(refused.code, 'airlock:ntfy-too-many-subscriptions');
  assert.equal((await failure(client.poll('x', token())))?.ntfyCode, 42903, 'a poll needs a slot too');
  assert.ok(opened.includes(many.join(',')), 'forty topics on one stream');
});

test('sizes: a JSON body of 8192 bytes is 413, a message of 4096 needs an attachment cache, shorter ones are trimmed', async (t) => {
  const d = await double(t);
  const client = createNtfyClient(d.url, { budget: null });
  const publish = (message: string, extra: Record<string, unknown> = {}) => client.publish({ topic: 'sizes', message, ...extra }, 'tk_ignored_without_an_auth_file_x');
  const json = JSON.stringify({ topic: 'sizes', message: '' });
  assert.equal((await failure(publish('x'.repeat(8192 - json.length))))?.ntfyCode, 41303, '8192 bytes of JSON');
  assert.equal((await failure(publish('x'.repeat(4096))))?.ntfyCode, 40014, '4096 bytes of message, no attachment cache');
  assert.equal((await failure(publish('é'.repeat(2048))))?.ntfyCode, 40014, 'bytes, not characters');
  const fits = await publish(`  ${'x'.repeat(4091)}\n`);
  assert.equal(fits.message, 'x'.repeat(4091), '4094 bytes: the message, trimmed');
  assert.equal((await publish('   ')).message, 'triggered', 'nothing left after trimming');
  const withCache = await double(t, { attachments: true });
  const attached = await createNtfyClient(withCache.url, { budget: null }).publish({ topic: 'sizes', message: 'x'.repeat(4096) }, 'tk_ignored_without_an_auth_file_x');
  assert.equal(attached.message, 'You received a file: attachment.txt');
  assert.equal((attached['attachment'] as { size: number }).size, 4096);
});

test('smaller rules: invalid JSON is 40024, reserved topics 40010, since= takes Go durations, priority 3 is kept (double or real server)', async (t) => {
  const ntfy = await ntfyUnderTest(t);
  const client = createNtfyClient(ntfy.url);
  const post = (body: string) => fetch(`${ntfy.url}/`, { method: 'POST', headers: { Authorization: `Bearer ${ntfy.tokens.publish}` }, body }).then(async (r) => [r.status, ((await r.json()) as { code?: number }).code]);
  assert.deepEqual(await post('{"topic": "x", '), [400, 40024]);
  assert.deepEqual(await post(JSON.stringify({ topic: ntfy.topics.alice.notify, priority: 'high' })), [400, 40024], 'a string where ntfy wants a number');
  assert.deepEqual(await post(JSON.stringify({ topic: 'v1', message: 'x' })), [400, 40010]);
  const stored = await client.publish({ topic: ntfy.topics.alice.notify, message: 'p', priority: 3 }, ntfy.tokens.publish);
  assert.equal(stored.priority, 3);
  assert.equal((await client.poll(ntfy.topics.alice.notify, ntfy.tokens.phone, '1h30m')).length, 1);
  assert.equal((await client.poll(ntfy.topics.alice.notify, ntfy.tokens.phone, '90s')).length, 1);
  assert.equal((await failure(client.poll(ntfy.topics.alice.notify, ntfy.tokens.phone, '1d')))?.ntfyCode, 40008, 'Go has no day unit');
  assert.equal((await failure(client.poll(ntfy.topics.alice.notify, ntfy.tokens.phone, 'soon')))?.ntfyCode, 40008);
});
