import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { RunStore } from '../../src/run/run-store.ts';
import type { AuditLog } from '../../src/audit/audit-log.ts';
import type { RepoConfig } from '../../src/config/schema.ts';
import { createLimiter } from '../../src/watch/limit-concurrency.ts';
import { createWatcher } from '../../src/watch/watcher.ts';

/** A task that stays in flight until released, recording how many run at once. */
function gauge() {
  let now = 0;
  let peak = 0;
  const started: number[] = [];
  const releases: Array<() => void> = [];
  return {
    get peak() {
      return peak;
    },
    started,
    releaseAll() {
      while (releases.length) releases.shift()!();
    },
    task(id: number) {
      return async () => {
        now++;
        peak = Math.max(peak, now);
        started.push(id);
        await new Promise<void>((r) => releases.push(r));
        now--;
        return id;
      };
    },
  };
}

const ticks = () => new Promise((r) => setImmediate(r));

describe('createLimiter', () => {
  it('keeps at most `max` tasks in flight and starts the rest in arrival order', async () => {
    const g = gauge();
    const limit = createLimiter(3);
    const all = Promise.all(Array.from({ length: 10 }, (_, i) => limit(g.task(i))));
    await ticks();
    assert.deepEqual(g.started, [0, 1, 2]);
    while (g.started.length < 10) {
      g.releaseAll();
      await ticks();
    }
    g.releaseAll();
    assert.deepEqual(await all, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(g.peak, 3);
    assert.deepEqual(g.started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('frees the slot of a task that throws, and passes the error on', async () => {
    const limit = createLimiter(1);
    await assert.rejects(limit(async () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await limit(async () => 'next'), 'next');
  });

  it('refuses a limit that is not a positive whole number', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => createLimiter(bad), RangeError);
  });
});

describe('the watcher polls through the limiter', () => {
  const repos = Array.from({ length: 30 }, (_, i) => ({ name: `r${i}`, url: `file:///nowhere/r${i}.git`, pollInterval: 60_000, refs: ['refs/pull/*/head'], workspaces: [{ name: 'default', dir: '.' }] })) as unknown as RepoConfig[];
  const deps = (listHeads: (url: string) => Promise<[]>, maxConcurrentPolls: number) => ({
    repos,
    runs: {} as RunStore,
    audit: {} as AuditLog,
    log: pino({ level: 'silent' }),
    enqueuePlan: async () => undefined,
    supersede: async () => undefined,
    listHeads,
    maxConcurrentPolls,
  });

  it('lists at most maxConcurrentPolls remotes at once, and every repo once per round', async () => {
    let now = 0;
    let peak = 0;
    const listed: string[] = [];
    const watcher = createWatcher(
      deps(async (url) => {
        now++;
        peak = Math.max(peak, now);
        listed.push(url);
        await new Promise((r) => setTimeout(r, 2));
        now--;
        return [];
      }, 4),
    );
    await watcher.pollAll();
    assert.equal(peak, 4);
    assert.deepEqual(listed.sort(), repos.map((r) => r.url).sort());
  });

  it('does not start the polls still queued when it stops', async () => {
    const listed: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const watcher = createWatcher(
      deps(async (url) => {
        listed.push(url);
        await gate;
        return [];
      }, 2),
    );
    watcher.start();
    await ticks();
    assert.equal(listed.length, 2);
    const stopping = watcher.stop();
    release();
    await stopping;
    assert.equal(listed.length, 2, 'queued polls never ran');
  });
});
