// The OpenTelemetry adapter against an in-process OTLP/HTTP receiver: pinned root ids, explicit parents and
// times, error status by code, scrubbed attributes, headers, and export failures reported.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createOtelSink, type OtelSinkOptions } from '../../src/trace/otel.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../doubles/otlp-receiver.ts';

const ROOT = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };

function sinkFor(receiver: OtlpReceiver, overrides: Partial<OtelSinkOptions> = {}) {
  return createOtelSink({
    url: receiver.url,
    headers: {},
    timeoutMs: 5_000,
    exportDelayMs: 50,
    service: { name: 'airlock', version: '0.0.0-test', instanceId: 'runner-a' },
    scrub: (s) => s,
    onExportError: () => undefined,
    ...overrides,
  });
}

test('a root span with pinned ids, a child with a remote parent and explicit times reach the receiver', async (t) => {
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  const sink = sinkFor(receiver);
  const child = sink.start('plan job', { parent: ROOT, attributes: { 'airlock.run.id': 'r0123456789abcde' } });
  const step = sink.start('checkout', { parent: child.ref });
  step.end({ attributes: { 'gen_ai.agent.name': 'claude', 'airlock.agent.matched': true } });
  child.end({ errorType: 'airlock:engine-failed' });
  const root = sink.start('airlock run', { pin: ROOT, startMs: Date.parse('2026-01-01T00:00:00.000Z'), attributes: { 'airlock.plan.changes.create': 2 } });
  root.end({ endMs: Date.parse('2026-01-01T00:01:00.000Z') });
  assert.deepEqual(root.ref, ROOT, 'the root has exactly the ids the traceparent promised');
  await sink.shutdown(5_000);

  const spans = await receiver.waitFor('three spans', (s) => s.length === 3);
  const byName = Object.fromEntries(spans.map((s) => [s.name, s]));
  assert.equal(byName['airlock run']!.spanId, ROOT.spanId);
  assert.equal(byName['airlock run']!.parentSpanId, null);
  assert.equal(byName['airlock run']!.endMs - byName['airlock run']!.startMs, 60_000, 'the explicit times are kept');
  assert.equal(byName['airlock run']!.attributes['airlock.plan.changes.create'], 2);
  assert.equal(byName['plan job']!.parentSpanId, ROOT.spanId);
  assert.equal(byName['checkout']!.parentSpanId, byName['plan job']!.spanId);
  assert.ok(spans.every((s) => s.traceId === ROOT.traceId), 'one trace');
  assert.equal(byName['checkout']!.attributes['gen_ai.agent.name'], 'claude');
  assert.equal(byName['checkout']!.attributes['airlock.agent.matched'], true);
  assert.equal(byName['plan job']!.status.code, 2, 'ERROR');
  assert.equal(byName['plan job']!.status.message ?? '', '', 'no error message travels, only its code');
  assert.equal(byName['plan job']!.attributes['error.type'], 'airlock:engine-failed');
  assert.equal(byName['checkout']!.status.code, 0);
  assert.equal(byName['checkout']!.resource['service.name'], 'airlock');
  assert.equal(byName['checkout']!.resource['service.instance.id'], 'runner-a');
  assert.equal(byName['checkout']!.scope, 'airlock');
});

test('string attributes pass through the scrubber before they leave (negative control: without it the secret goes out)', async (t) => {
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  const secret = 'scrub-me-canary-7f3a9c21';
  for (const scrub of [(s: string) => s.replaceAll(secret, '[scrubbed]'), (s: string) => s]) {
    const sink = sinkFor(receiver, { scrub });
    sink.start('checkout', { parent: ROOT, attributes: { 'vcs.ref.head.name': `refs/heads/${secret}` } }).end({ errorType: secret });
    await sink.shutdown(5_000);
  }
  await receiver.waitFor('two spans', (s) => s.length === 2);
  const [scrubbed, plain] = receiver.raw.map((b) => b.toString('utf8'));
  assert.ok(!scrubbed!.includes(secret), 'scrubbed on the way out');
  assert.match(scrubbed!, /refs\/heads\/\[scrubbed\]/);
  assert.ok(plain!.includes(secret), 'the check sees a secret when nothing scrubs it');
});

test('configured headers are sent, and a failed export is reported, not thrown', async (t) => {
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  receiver.requireHeader('authorization', 'Bearer right');
  const errors: Array<Error | undefined> = [];
  const wrong = sinkFor(receiver, { headers: { authorization: 'Bearer wrong' }, onExportError: (e) => errors.push(e) });
  wrong.start('checkout', { parent: ROOT }).end();
  await wrong.shutdown(5_000);
  assert.equal(errors.length, 1, `the 401 was reported: ${errors.map((e) => e?.message).join(" / ")}`);
  assert.equal(receiver.spans.length, 0);

  const right = sinkFor(receiver, { headers: { authorization: 'Bearer right' } });
  right.start('checkout', { parent: ROOT }).end();
  await right.shutdown(5_000);
  await receiver.waitFor('the span sent with the right header', (s) => s.length === 1);
  assert.equal(receiver.requests.at(-1)!.headers['authorization'], 'Bearer right');
  assert.match(String(receiver.requests.at(-1)!.headers['content-type']), /^application\/json/);
});

test('shutdown gives up after its bound when the collector never answers', async () => {
  const { createServer } = await import('node:http');
  const sockets = new Set<import('node:net').Socket>();
  const silent = createServer(() => undefined); // takes the request, never answers
  silent.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as import('node:net').AddressInfo).port;
  try {
    const sink = createOtelSink({ url: `http://127.0.0.1:${port}/v1/traces`, headers: {}, timeoutMs: 1_000, exportDelayMs: 10, service: { name: 'airlock', version: '0', instanceId: 'x' }, scrub: (s) => s, onExportError: () => undefined });
    sink.start('checkout', { parent: ROOT }).end();
    await sink.shutdown(300); // resolves (the test's own timeout would catch a hang)
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
  }
});
