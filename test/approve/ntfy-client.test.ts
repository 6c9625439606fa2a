// The ntfy client against the double (or a real server): publish, poll, stream, and ntfy's errors.
// These also pin the double to the protocol: the same assertions hold for a real ntfy server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NtfyError } from '../../src/approve/errors.ts';
import { createNtfyClient, type NtfyEvent } from '../../src/ntfy/client.ts';
import { waitFor } from '../support/harness.ts';
import { ntfyUnderTest } from './ntfy-fixture.ts';

const httpAction = (label: string) => ({ action: 'http' as const, label, url: 'https://example.invalid/x', method: 'POST', body: '{}' });

test('a JSON publish is stored and comes back from a poll with its actions', async (t) => {
  const ntfy = await ntfyUnderTest(t);
  const client = createNtfyClient(ntfy.url);
  const topic = ntfy.topics.alice.notify;
  const stored = await client.publish({ topic, title: 'T', message: 'hello', priority: 4, tags: ['lock'], markdown: false, actions: [httpAction('Approve'), httpAction('Deny')] }, ntfy.tokens.publish);
  assert.match(String(stored.id), /^[A-Za-z0-9]{12}$/);
  assert.equal(stored.event, 'message');
  assert.equal(stored.topic, topic);
  const [polled] = await client.poll(topic, ntfy.tokens.phone);
  assert.equal(polled?.id, stored.id);
  assert.equal(polled?.message, 'hello');
  assert.equal(polled?.title, 'T');
  assert.equal(polled?.content_type, undefined, 'markdown off: no text/markdown content type');
  assert.deepEqual(polled?.actions?.map((a) => [a.action, a.label, a.method, a.body]), [
    ['http', 'Approve', 'POST', '{}'],
    ['http', 'Deny', 'POST', '{}'],
  ]);
  assert.ok(polled?.actions?.every((a) => typeof a.id === 'string'), 'the server gives each action an id');
});

test('invalid actions are refused with 40018: more than three, or a body on GET', async (t) => {
  const ntfy = await ntfyUnderTest(t);
  const client = createNtfyClient(ntfy.url);
  const topic = ntfy.topics.alice.notify;
  for (const actions of [[httpAction('a'), httpAction('b'), httpAction('c'), httpAction('d')], [{ ...httpAction('get'), method: 'GET' }], [{ action: 'http' as const, label: 'no url' }]]) {
    const err = await client.publish({ topic, message: 'x', actions }, ntfy.tokens.publish).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof NtfyError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.ntfyCode, 40018);
    assert.equal(err.transient, false);
  }
  assert.equal((await client.poll(topic, ntfy.tokens.phone)).length, 0, 'nothing was stored');
});

test('tokens and ACLs: unknown token 401/40101, no grant 403/40301, named in the error', async (t) => {
  const ntfy = await ntfyUnderTest(t);
  const client = createNtfyClient(ntfy.url);
  const unknown = await client.poll(ntfy.topics.alice.reply, 'tk_notarealtokennotarealtoken1').catch((e: unknown) => e);
  assert.ok(unknown instanceof NtfyError);
  assert.equal(unknown.status, 401);
  assert.equal(unknown.ntfyCode, 40101);
  assert.equal(unknown.code, 'airlock:ntfy-unauthorized');
  // bob's reply token may write only bob's reply topic; the publisher may not read; the phone may not write.
  const cases: Array<() => Promise<unknown>> = [
    () => fetch(`${ntfy.url}/${ntfy.topics.alice.reply}`, { method: 'POST', headers: { Authorization: `Bearer ${ntfy.tokens.bob}` }, body: 'x' }).then(async (r) => { if (!r.ok) throw Object.assign(new Error('http'), { status: r.status, body: await r.json() }); }),
    () => client.poll(ntfy.topics.alice.notify, ntfy.tokens.publish),
    () => client.publish({ topic: ntfy.topics.alice.notify, message: 'x' }, ntfy.tokens.phone),
    () => client.poll(ntfy.topics.alice.reply, ntfy.tokens.alice),
  ];
  for (const c of cases) {
    const err = (await c().then(() => null, (e: unknown) => e)) as { status?: number; ntfyCode?: number; body?: { code?: number } } | null;
    assert.ok(err, 'refused');
    assert.equal(err.status, 403);
    assert.equal(err.ntfyCode ?? err.body?.code, 40301);
  }
});

test('since= on poll: all, a message id (only later ones), an id the cache lost (all)', async (t) => {
  const ntfy = await ntfyUnderTest(t);
  const client = createNtfyClient(ntfy.url);
  const topic = ntfy.topics.alice.reply;
  const ids: string[] = [];
  for (const m of ['one', 'two', 'three']) {
    const r = await fetch(`${ntfy.url}/${topic}`, { method: 'POST', headers: { Authorization: `Bearer ${ntfy.tokens.alice}` }, body: m });
    assert.equal(r.status, 200);
    ids.push(((await r.json()) as { id: string }).id);
  }
  const messages = (since: string) => client.poll(topic, ntfy.tokens.subscribe, since).then((ms) => ms.map((m) => m.message));
  assert.deepEqual(await messages('all'), ['one', 'two', 'three']);
  assert.deepEqual(await messages(ids[0]!), ['two', 'three']);
  assert.deepEqual(await messages(ids[2]!), []);
  assert.deepEqual(await messages('AAAAAAAAAAAA'), ['one', 'two', 'three']);
  assert.deepEqual(await messages('none'), []);
});

test('a stream sends open first, then the cached messages asked for, then live ones', async (t) => {
  const ntfy = await ntfyUnderTest(t);
  const client = createNtfyClient(ntfy.url);
  const topic = ntfy.topics.alice.reply;
  const post = async (body: string) => ((await (await fetch(`${ntfy.url}/${topic}`, { method: 'POST', headers: { Authorization: `Bearer ${ntfy.tokens.alice}` }, body })).json()) as { id: string }).id;
  const first = await post('before-1');
  await post('before-2');
  const events: NtfyEvent[] = [];
  const stop = new AbortController();
  const done = client.stream(topic, ntfy.tokens.subscribe, { since: first, signal: stop.signal, onEvent: async (e) => void events.push(e) }).catch((e: unknown) => e);
  await waitFor('open and the cached message', async () => events.filter((e) => e.event !== 'keepalive').length >= 2);
  await post('live');
  await waitFor('the live message', async () => events.some((e) => e.message === 'live'));
  stop.abort();
  await done;
  assert.deepEqual(events.filter((e) => e.event !== 'keepalive').map((e) => e.event === 'open' ? 'open' : e.message), ['open', 'before-2', 'live']);
});

test('the double: keepalives, injected garbage and unknown events reach the stream callbacks', async (t) => {
  const ntfy = await ntfyUnderTest(t, { keepaliveMs: 100 });
  if (!ntfy.double) return t.skip('needs the double');
  const client = createNtfyClient(ntfy.url);
  const topic = ntfy.topics.alice.reply;
  const events: string[] = [];
  const garbage: string[] = [];
  const stop = new AbortController();
  const done = client.stream(topic, ntfy.tokens.subscribe, { signal: stop.signal, onEvent: async (e) => void events.push(e.event), onGarbage: (l) => void garbage.push(l) }).catch(() => undefined);
  await waitFor('open', async () => events.includes('open'));
  ntfy.double.injectLine(topic, 'not json at all');
  ntfy.double.injectLine(topic, '{"event":"poll_request","id":"x"}');
  ntfy.double.injectLine(topic, '[1,2,3]');
  await waitFor('keepalive and the injected lines', async () => events.includes('keepalive') && events.includes('poll_request') && garbage.length === 2);
  stop.abort();
  await done;
  assert.deepEqual(garbage, ['not json at all', '[1,2,3]']);
});

test('the double: 429 with 42901 once the visitor burst is spent', async (t) => {
  const ntfy = await ntfyUnderTest(t);
  if (!ntfy.double) return t.skip('needs the double');
  ntfy.double.limitRequests({ burst: 2, replenishMs: 60_000 });
  const client = createNtfyClient(ntfy.url);
  await client.poll(ntfy.topics.alice.reply, ntfy.tokens.subscribe);
  await client.poll(ntfy.topics.alice.reply, ntfy.tokens.subscribe);
  const err = await client.poll(ntfy.topics.alice.reply, ntfy.tokens.subscribe).catch((e: unknown) => e);
  assert.ok(err instanceof NtfyError);
  assert.equal(err.status, 429);
  assert.equal(err.ntfyCode, 42901);
  assert.equal(err.transient, true);
});

test('an unreachable server is an NtfyError with status 0', async () => {
  const err = await createNtfyClient('http://127.0.0.1:9').poll('x', 'tk_x').catch((e: unknown) => e);
  assert.ok(err instanceof NtfyError);
  assert.equal(err.status, 0);
  assert.equal(err.code, 'airlock:ntfy-unreachable');
});
