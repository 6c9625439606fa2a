import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/log/logger.ts';
import { Scrubber } from '../../src/log/scrub.ts';

const CANARY = 'canary-4b1d-logger-secret-value';

function capture() {
  const stream = new PassThrough();
  let raw = '';
  stream.on('data', (d: Buffer) => (raw += d.toString()));
  return { stream, text: () => raw };
}

test('JSON lines with a child logger per run, errors under err, secrets scrubbed in every field', () => {
  const scrubber = new Scrubber();
  scrubber.add(CANARY);
  const out = capture();
  const log = createLogger({ destination: out.stream, pretty: false, scrubber, level: 'debug' });
  const child = log.child({ runId: 'r1', repo: 'infra', workspace: `ws-${CANARY}` });
  child.info({ detail: `value ${CANARY}`, token: 'inline-token-value', nested: { password: 'pw-123456' } }, `message ${CANARY}`);
  child.error({ err: new Error(`boom ${CANARY}`) }, 'failed');
  const lines = out.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 2);
  assert.equal(lines[0]!['runId'], 'r1');
  assert.equal(lines[0]!['repo'], 'infra');
  assert.equal(lines[0]!['token'], '[redacted]');
  assert.deepEqual(lines[0]!['nested'], { password: '[redacted]' });
  assert.equal((lines[1]!['err'] as { message: string }).message, 'boom [scrubbed]');
  assert.ok(!out.text().includes(CANARY), out.text());
});

test('pretty output in a TTY shows control characters from repo-supplied strings instead of obeying them', () => {
  const out = capture();
  const log = createLogger({ destination: out.stream, pretty: true, scrubber: new Scrubber() });
  log.info('ref refs/heads/\x1b[31mred\u202Eevil');
  const text = out.text();
  assert.ok(text.includes('\\u{1b}[31mred\\u{202e}evil'), text);
  assert.ok(!text.includes('\u202E'));
});
