// Redis going away while the runner runs: one log line per change of state (lost, retrying, back), read
// off one connection, instead of an error with a stack from every connection at every reconnect attempt.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { maskUrl } from '../watch/ls-remote.ts';

export type RedisHealth = 'up' | 'lost' | 'retrying';
/** What a connection reports: it works, it dropped (error or close), or it is about to try again. */
export type RedisSignal = 'ready' | 'down' | 'reconnecting';

/** Pure: the state after a signal. Only a change of state is logged. */
export function nextRedisHealth(state: RedisHealth, signal: RedisSignal): RedisHealth {
  if (signal === 'ready') return 'up';
  if (state === 'up') return 'lost';
  if (signal === 'reconnecting') return 'retrying';
  return state;
}

// Errors every Redis client reports while the server is away; the health line already says so.
const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);
const CONNECTION_MESSAGES = /Connection is closed|Stream isn't writeable|connect ETIMEDOUT|Socket closed unexpectedly|Reached the max retries per request limit/i;

/** Pure: whether an error only says that the connection to Redis is down. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return (code !== undefined && CONNECTION_ERRORS.has(code)) || CONNECTION_MESSAGES.test(err.message);
}

/** Follow one connection's state and log each change, until `stop()` (before the connection is closed); `onBack` hears each return. */
export function watchRedisHealth(redis: Redis, url: string, log: Logger, onBack?: () => void): { state(): RedisHealth; stop(): void } {
  let state: RedisHealth = 'up';
  let stopped = false;
  let since = Date.now();
  let reason = 'the connection closed';
  const on = (signal: RedisSignal, detail: { err?: Error; delayMs?: number } = {}) => {
    if (stopped) return;
    if (detail.err) reason = detail.err.message;
    const next = nextRedisHealth(state, signal);
    if (next === state) return;
    const was = state;
    state = next;
    const fields = { event: `redis.${next === 'up' ? 'back' : next}`, redis: maskUrl(url) };
    if (next === 'lost') {
      since = Date.now();
      log.error({ ...fields, reason }, `Redis connection lost (${reason}); plans, approvals and applies wait until it is back`);
    } else if (next === 'retrying') {
      log.warn({ ...fields, delayMs: detail.delayMs }, 'reconnecting to Redis; retrying until it answers (the next line is when it is back)');
    } else if (was !== 'up') {
      log.info({ ...fields, downMs: Date.now() - since }, `Redis is back after ${Math.round((Date.now() - since) / 1000)}s`);
      onBack?.();
    }
    reason = 'the connection closed';
  };
  redis.on('ready', () => on('ready'));
  redis.on('error', (err: Error) => on('down', { err }));
  redis.on('close', () => on('down'));
  redis.on('end', () => on('down'));
  redis.on('reconnecting', (delayMs: number) => on('reconnecting', { delayMs }));
  return {
    state: () => state,
    stop: () => {
      stopped = true;
    },
  };
}
