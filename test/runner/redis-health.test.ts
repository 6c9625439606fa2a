// The Redis health line: a pure state machine over what a connection reports, and which errors only
// say that the connection is down (those are not logged again by every worker).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isConnectionError, nextRedisHealth, type RedisHealth, type RedisSignal } from '../../src/runner/redis-health.ts';

const ROWS: Array<[RedisHealth, RedisSignal, RedisHealth]> = [
  ['up', 'ready', 'up'],
  ['up', 'down', 'lost'],
  ['up', 'reconnecting', 'lost'],
  ['lost', 'down', 'lost'],
  ['lost', 'reconnecting', 'retrying'],
  ['lost', 'ready', 'up'],
  ['retrying', 'down', 'retrying'],
  ['retrying', 'reconnecting', 'retrying'],
  ['retrying', 'ready', 'up'],
];

for (const [from, signal, to] of ROWS) {
  test(`redis health: ${from} + ${signal} → ${to}`, () => {
    assert.equal(nextRedisHealth(from, signal), to);
  });
}

test('an outage of many attempts is three changes of state: lost, retrying, back', () => {
  const signals: RedisSignal[] = ['down', 'down', 'reconnecting', ...Array.from({ length: 30 }, (): RedisSignal[] => ['down', 'down', 'reconnecting']).flat(), 'ready', 'ready'];
  let state: RedisHealth = 'up';
  const changes: RedisHealth[] = [];
  for (const s of signals) {
    const next = nextRedisHealth(state, s);
    if (next !== state) changes.push(next);
    state = next;
  }
  assert.deepEqual(changes, ['lost', 'retrying', 'up']);
});

test('isConnectionError: connection failures yes, anything else no', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
  assert.equal(isConnectionError(refused), true);
  assert.equal(isConnectionError(new Error('Connection is closed.')), true);
  assert.equal(isConnectionError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })), true);
  assert.equal(isConnectionError(new Error('WRONGTYPE Operation against a key holding the wrong kind of value')), false);
  assert.equal(isConnectionError(new Error('Missing lock for job 1. moveToFinished')), false);
  assert.equal(isConnectionError('ECONNREFUSED'), false);
});
