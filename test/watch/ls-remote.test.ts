import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hasCode } from '../../src/errors.ts';
import { listRemoteHeads, maskUrl } from '../../src/watch/ls-remote.ts';
import { makeRemote, pushCommit, setRef, type Remote } from '../git-fixtures.ts';

const HOSTILE_REFS = [
  'refs/heads/--upload-pack=touch$IFS$9PWNED',
  'refs/heads/$(touch${IFS}PWNED)',
  'refs/heads/`touch${IFS}PWNED`',
  'refs/heads/a;touch${IFS}PWNED|&b',
  'refs/heads/-x',
  'refs/pull/-1/head',
];

async function findPwned(dir: string): Promise<string[]> {
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return names.filter((n) => n.split('/').pop()?.startsWith('PWNED'));
}

describe('listRemoteHeads against a real remote', () => {
  let remote: Remote;
  let sha: string;

  before(async () => {
    remote = await makeRemote();
    sha = await pushCommit(remote, { 'main.tf': '' }, { refs: ['refs/pull/1/head', 'refs/heads/feature', 'refs/merge-requests/4/head'] });
    for (const ref of HOSTILE_REFS) await setRef(remote, ref, sha);
  });
  after(() => remote.cleanup());

  it('git itself refuses a ref name with a space, so that hostile name cannot exist', async () => {
    await assert.rejects(setRef(remote, 'refs/heads/$(touch PWNED)', sha));
  });

  it('lists hostile refs verbatim and runs none of them', async () => {
    const heads = await listRemoteHeads(remote.url, ['refs/pull/*/head', 'refs/heads/*']);
    const refs = heads.map((h) => h.ref).sort();
    assert.deepEqual(refs, ['refs/heads/feature', 'refs/pull/1/head', ...HOSTILE_REFS].sort());
    assert.ok(heads.every((h) => h.sha === sha));
    assert.deepEqual(await findPwned(process.cwd()).then((l) => l.filter((n) => !n.includes('node_modules'))), []);
    assert.deepEqual(await findPwned(remote.dir), []);
    assert.equal(existsSync(join(tmpdir(), 'PWNED')), false);
  });

  it('filters by pattern in JS: one segment per `*`', async () => {
    const heads = await listRemoteHeads(remote.url, ['refs/pull/*/head', 'refs/merge-requests/*/head']);
    assert.deepEqual(heads.map((h) => h.ref).sort(), ['refs/merge-requests/4/head', 'refs/pull/-1/head', 'refs/pull/1/head']);
  });

  it('returns nothing for no patterns', async () => {
    assert.deepEqual(await listRemoteHeads(remote.url, []), []);
  });

  it('sees a moved head', async () => {
    const next = await pushCommit(remote, { 'main.tf': 'changed' }, { refs: ['refs/pull/1/head'] });
    const heads = await listRemoteHeads(remote.url, ['refs/pull/1/head']);
    assert.deepEqual(heads, [{ ref: 'refs/pull/1/head', sha: next }]);
  });
});

describe('listRemoteHeads failures', () => {
  it('names the URL and git’s message for a missing repository', async () => {
    const url = `file://${join(tmpdir(), 'airlock-no-such-repo-' + process.pid)}`;
    await assert.rejects(listRemoteHeads(url, ['refs/heads/*']), (err: Error) => {
      assert.ok(hasCode(err, 'airlock:ls-remote-failed'), String(err));
      assert.ok(err.message.includes(url), err.message);
      assert.match(err.message, /does not appear to be a git repository/);
      return true;
    });
  });

  it('masks userinfo in the URL and in git’s message', async () => {
    const url = 'http://agent:hunter2-token@127.0.0.1:9/org/repo.git';
    await assert.rejects(listRemoteHeads(url, ['refs/heads/*'], { timeoutMs: 10_000 }), (err: Error) => {
      assert.ok(hasCode(err, 'airlock:ls-remote-failed'), String(err));
      assert.ok(err.message.includes('http://***@127.0.0.1:9/org/repo.git'), err.message);
      assert.ok(!err.message.includes('hunter2'), err.message);
      assert.ok(!err.message.includes('agent:'), err.message);
      return true;
    });
  });

  it('refuses a URL that git could read as an option, before running git', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-lsr-'));
    const marker = join(dir, 'PWNED');
    try {
      await assert.rejects(listRemoteHeads(`--upload-pack=touch ${marker}`, ['*']), (err) => hasCode(err, 'airlock:bad-remote-url'));
      await assert.rejects(listRemoteHeads('', ['*']), (err) => hasCode(err, 'airlock:bad-remote-url'));
      await assert.rejects(listRemoteHeads('file:///x\n--upload-pack=y', ['*']), (err) => hasCode(err, 'airlock:bad-remote-url'));
      assert.equal(existsSync(marker), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('never runs the ext:: transport, even when the user config allows it', async () => {
    const home = await mkdtemp(join(tmpdir(), 'airlock-home-'));
    const marker = join(home, 'PWNED-ext');
    await writeFile(join(home, '.gitconfig'), '[protocol "ext"]\n\tallow = always\n');
    const savedHome = process.env.HOME;
    process.env.HOME = home;
    try {
      await assert.rejects(listRemoteHeads(`ext::touch ${marker}`, ['*']), (err) => hasCode(err, 'airlock:ls-remote-failed'));
      assert.equal(existsSync(marker), false, 'the ext:: command ran');
    } finally {
      process.env.HOME = savedHome;
      await rm(home, { recursive: true, force: true });
    }
  });

  it('kills git at the timeout when the remote never answers', async () => {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const started = Date.now();
    try {
      await assert.rejects(listRemoteHeads(`git://127.0.0.1:${port}/repo.git`, ['*'], { timeoutMs: 400 }), (err: Error) => {
        assert.ok(hasCode(err, 'airlock:ls-remote-failed'), String(err));
        assert.match(err.message, /timed out after 400 ms/);
        return true;
      });
      assert.ok(Date.now() - started < 4_000, `took ${Date.now() - started} ms`);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('maskUrl', () => {
  const rows: Array<[string, string]> = [
    ['https://x-access-token:ghs_abc@github.com/o/r.git', 'https://***@github.com/o/r.git'],
    ['https://ghp_token@github.com/o/r.git', 'https://***@github.com/o/r.git'],
    ['https://user:p@ss@host/r', 'https://***@host/r'],
    ['ssh://git@host:22/r.git', 'ssh://***@host:22/r.git'],
    ['https://github.com/o/r.git', 'https://github.com/o/r.git'],
    ['https://host/r?x=a@b', 'https://host/r?x=a@b'],
    ['git@github.com:o/r.git', 'git@github.com:o/r.git'],
    ['file:///srv/git/r.git', 'file:///srv/git/r.git'],
  ];
  for (const [url, masked] of rows) {
    it(`${url} → ${masked}`, () => assert.equal(maskUrl(url), masked));
  }
});
