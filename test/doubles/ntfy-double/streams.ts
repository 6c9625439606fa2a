// The double's open `/json` streams (server.go, handleSubscribeHTTP): the subscriber is registered first,
// then `open`, the cached messages asked for, and live ones, with a keepalive every interval; plus the
// switches tests use to cut, refuse or race them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomId, type StoredMessage } from './cache.ts';

interface Subscriber {
  topics: string[];
  res: ServerResponse;
  keepalive: NodeJS.Timeout;
}

export class Streams {
  readonly #subscribers = new Set<Subscriber>();
  keepaliveMs: number;
  /** New streams are cut at once (publishing still works). */
  blocked = false;
  /** The next stream with cached messages gets its newest one twice (see open()). */
  raceNext = false;

  constructor(keepaliveMs: number) {
    this.keepaliveMs = keepaliveMs;
  }

  /** Answer a subscription: a poll gets the cache and ends; a stream stays open. */
  open(req: IncomingMessage, res: ServerResponse, topics: string[], cached: StoredMessage[], poll: boolean): void {
    if (this.blocked && !poll) return void req.socket.destroy();
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson; charset=utf-8', 'Access-Control-Allow-Origin': '*' });
    if (poll) return void res.end(cached.map((m) => `${JSON.stringify(m)}\n`).join(''));
    const event = (name: string) => ({ id: randomId(12), time: Math.floor(Date.now() / 1000), event: name, topic: topics.join(',') });
    const sub: Subscriber = { topics, res, keepalive: setInterval(() => write(sub, event('keepalive')), this.keepaliveMs) };
    this.#subscribers.add(sub);
    // Registered before the cache is read: a message published in between goes out live (even before
    // `open`) and again from the cache.
    if (this.raceNext && cached.length > 0) write(sub, cached.at(-1)!);
    this.raceNext = false;
    write(sub, event('open'));
    for (const m of cached) write(sub, m);
    res.on('close', () => {
      clearInterval(sub.keepalive);
      this.#subscribers.delete(sub);
    });
  }

  /** A message (or a raw line) to every stream of its topic. */
  deliver(topic: string, message: object | string): void {
    for (const sub of this.#subscribers) if (sub.topics.includes(topic)) write(sub, message);
  }

  count(topic?: string): number {
    return [...this.#subscribers].filter((s) => topic === undefined || s.topics.includes(topic)).length;
  }

  /** Cut every open stream, as a network failure would (no clean end of the response). */
  drop(): void {
    for (const sub of this.#subscribers) {
      clearInterval(sub.keepalive);
      sub.res.socket?.destroy();
    }
    this.#subscribers.clear();
  }

  stopTimers(): void {
    for (const sub of this.#subscribers) clearInterval(sub.keepalive);
  }
}

function write(sub: Subscriber, event: object | string): void {
  if (sub.res.writableEnded || sub.res.destroyed) return;
  sub.res.write(typeof event === 'string' ? `${event}\n` : `${JSON.stringify(event)}\n`);
}
