// How the watcher spends its polls: one listing per URL per round, an unchanged listing skipped only when
// nothing was left to retry, and the rounds after the first spread over the interval.
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { pino } from 'pino';
import type { AuditLog } from '../../src/audit/audit-log.ts';
import type { RepoConfig } from '../../src/config/schema.ts';
import type { RunStore } from '../../src/run/run-store.ts';
import type { RemoteHead } from '../../src/watch/ls-remote.ts';
import { createWatcher } from '../../src/watch/watcher.ts';

const SHA = (n: number) => n.toString(16).padStart(40, '0');
const repo = (name: string, url: string, pollInterval = 60_000) =>
  ({ name, url, pollInterval, refs: ['refs/pull/*/head'], workspaces: [{ name: 'default', dir: '.' }] }) as unknown as RepoConfig;

/** A RunStore that records creations; `failFirst` makes the first create of that ref throw. */
function fakeRuns(failFirst?: string) {
  const created: string[] = [];
  let failed = false;
  const runs = {
    async create(input: { repo: string; ref: string; sha: string }) {
      if (input.ref === failFirst && !failed) {
        failed = true;
        throw new Error('redis hiccup');
      }
      created.push(`${input.repo} ${input.ref} ${input.sha.slice(-2)}`);
      return { created: true, latest: true, run: { id: `${input.repo}-${input.sha}`, state: 'no_changes', repo: input.repo, workspace: 'default', sha: input.sha, ref: input.ref } };
    },
  } as unknown as RunStore;
  return { runs, created };
}

const deps = (repos: RepoConfig[], runs: RunStore, listHeads: (url: string) => Promise<RemoteHead[]>) => ({
  repos,
  runs,
  audit: { append: async () => undefined } as unknown as AuditLog,
  log: pino({ level: 'silent' }),
  enqueuePlan: async () => undefined,
  supersede: async () => undefined,
  listHeads,
});

describe('the watcher\'s rounds', () => {
  it('lists a URL shared by several repos once per round, and each repo sights its own heads', async () => {
    const listed: string[] = [];
    const { runs, created } = fakeRuns();
    const shared = 'file:///srv/mono.git';
    const watcher = createWatcher(deps([repo('a', shared), repo('b', shared), repo('c', 'file:///srv/other.git')], runs, async (url) => {
      listed.push(url);
      return [{ ref: 'refs/pull/1/head', sha: SHA(1) }];
    }));
    await watcher.pollAll();
    assert.deepEqual(listed.sort(), ['file:///srv/mono.git', 'file:///srv/other.git']);
    assert.deepEqual(created.sort(), ['a refs/pull/1/head 01', 'b refs/pull/1/head 01', 'c refs/pull/1/head 01']);
  });

  it('an unchanged listing is skipped only after a clean poll: a failed sighting is retried', async () => {
    const { runs, created } = fakeRuns('refs/pull/2/head');
    const heads = [{ ref: 'refs/pull/1/head', sha: SHA(1) }, { ref: 'refs/pull/2/head', sha: SHA(2) }];
    const watcher = createWatcher(deps([repo('a', 'file:///srv/a.git')], runs, async () => heads));
    await watcher.pollAll();
    assert.deepEqual(created, ['a refs/pull/1/head 01'], 'the second head failed to record');
    await watcher.pollAll();
    assert.deepEqual(created, ['a refs/pull/1/head 01', 'a refs/pull/2/head 02'], 'same listing, but retried');
    heads.push({ ref: 'refs/pull/3/head', sha: SHA(3) });
    await watcher.pollAll();
    assert.deepEqual(created.at(-1), 'a refs/pull/3/head 03', 'a changed listing is processed');
  });

  it('after the first round, polls of n remotes are spread over the interval, one every interval/n', async (t) => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    t.after(() => mock.timers.reset());
    const calls: Array<[string, number]> = [];
    const { runs } = fakeRuns();
    const urls = ['file:///r0', 'file:///r1', 'file:///r2', 'file:///r3'];
    const watcher = createWatcher(deps(urls.map((u, i) => repo(`r${i}`, u, 1000)), runs, async (url) => {
      calls.push([url, Date.now()]);
      return [];
    }));
    const settle = async () => {
      for (let i = 0; i < 20; i++) await new Promise<void>((r) => queueMicrotask(r));
    };
    watcher.start();
    await settle();
    for (let ms = 0; ms < 2000; ms += 250) {
      mock.timers.tick(250);
      await settle();
    }
    await watcher.stop();
    // The first round at once; then r0 at 1000, r1 at 1250, r2 at 1500, r3 at 1750, r0 again at 2000.
    assert.deepEqual(calls.slice(0, 4).map(([, at]) => at), [0, 0, 0, 0]);
    assert.deepEqual(calls.slice(4), [['file:///r0', 1000], ['file:///r1', 1250], ['file:///r2', 1500], ['file:///r3', 1750], ['file:///r0', 2000]]);
  });
});
