import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SCRUBBED, Scrubber } from '../../src/log/scrub.ts';

const CANARY = 'canary-7f3e9a1c-not-a-real-secret';

test('a registered secret is removed from strings, nested values, errors and their causes', () => {
  const s = new Scrubber();
  s.add(CANARY);
  assert.equal(s.scrubString(`token=${CANARY};`), `token=${SCRUBBED};`);
  const cause = new Error(`inner ${CANARY}`);
  const err = Object.assign(new Error(`outer ${CANARY}`, { cause }), { outputTail: `tail ${CANARY}` });
  const out = s.scrub({ a: [CANARY, { b: `x${CANARY}y` }], err });
  const text = JSON.stringify(out) + String(out.err.message) + String((out.err.cause as Error).message) + String(out.err.stack);
  assert.ok(!text.includes(CANARY), text);
  assert.equal(out.a[0], SCRUBBED);
});

test('common encodings of a secret are scrubbed too', () => {
  const s = new Scrubber();
  s.add('p@ss/word+"quoted"');
  for (const encoded of [Buffer.from('p@ss/word+"quoted"').toString('base64'), encodeURIComponent('p@ss/word+"quoted"'), JSON.stringify('p@ss/word+"quoted"').slice(1, -1)]) {
    assert.equal(s.scrubString(`x ${encoded} y`), `x ${SCRUBBED} y`, encoded);
  }
});

test('short values are not registered: scrubbing them would shred ordinary text', () => {
  const s = new Scrubber();
  s.add('abc');
  s.add('');
  s.add(undefined);
  assert.equal(s.size, 0);
  assert.equal(s.scrubString('abc'), 'abc');
});

test('regex metacharacters in secrets are literal; cycles do not hang', () => {
  const s = new Scrubber();
  s.add('a.b*c(d)e[f]');
  assert.equal(s.scrubString('a.b*c(d)e[f] axbbc'), `${SCRUBBED} axbbc`);
  const cyclic: Record<string, unknown> = { v: 'a.b*c(d)e[f]' };
  cyclic['self'] = cyclic;
  const out = s.scrub(cyclic);
  assert.equal(out['v'], SCRUBBED);
});
