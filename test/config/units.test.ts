// Durations and sizes as an operator writes them in a runner config.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration, parseSize } from '../../src/lib/units.ts';

const DURATIONS: Array<[string, number | null]> = [
  ['15m', 15 * 60_000],
  ['90s', 90_000],
  ['1500ms', 1500],
  ['2h', 7_200_000],
  ['1d', 86_400_000],
  ['0s', 0],
  [' 30s ', 30_000],
  ['1h30m', 5_400_000],
  ['2m30s', 150_000],
  ['1d12h', 129_600_000],
  ['1h0m30s', 3_630_000],
  ['1m500ms', 60_500],
  ['30m1h', null], // largest unit first
  ['1h1h', null], // each unit once
  ['1h 30m', null],
  ['1h30', null],
  ['', null],
  ['h', null],
  ['-5m', null],
  ['1.5h', null],
  ['15min', null],
  ['9999999999999999999d', null],
];

for (const [text, ms] of DURATIONS) {
  test(`parseDuration(${JSON.stringify(text)}) → ${ms}`, () => {
    assert.equal(parseDuration(text), ms);
  });
}

test('parseSize keeps its units', () => {
  assert.equal(parseSize('50MiB'), 50 * 1024 ** 2);
  assert.equal(parseSize('5MB'), 5e6);
  assert.equal(parseSize('1.5GiB'), null);
});
