import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { appendFile, chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_CHECKOUT_LIMITS } from '../../src/checkout/checkout.ts';
import { exportCommit } from '../../src/checkout/export-tree.ts';
import { ensureMirror, fetchCommit } from '../../src/checkout/mirror.ts';
import { hasCode } from '../../src/errors.ts';
import { deleteRef, git, makeRemote, pruneRemote, pushCommit, type Remote } from '../git-fixtures.ts';

describe('ensureMirror', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-mirror-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('creates a bare repository, mode 0700, without hooks, and is idempotent', async () => {
    const dir = join(work, 'nested', 'm1');
    await ensureMirror(dir, 'file:///srv/repo.git');
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await git(['rev-parse', '--is-bare-repository'], { cwd: dir, env: { GIT_DIR: dir } })).trim(), 'true');
    assert.equal(existsSync(join(dir, 'hooks')), false);
    assert.match(await readFile(join(dir, 'config'), 'utf8'), /hooksPath = \/dev\/null/);
    await ensureMirror(dir, 'file:///srv/repo.git');
  });

  it('initialises an existing empty directory', async () => {
    const dir = join(work, 'empty');
    await mkdir(dir, { mode: 0o755 });
    await ensureMirror(dir, 'file:///srv/repo.git');
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.ok(existsSync(join(dir, 'HEAD')));
  });

  it('refuses a non-empty directory that is not a bare repository', async () => {
    const dir = join(work, 'busy');
    await mkdir(dir);
    await writeFile(join(dir, 'file'), 'x');
    await assert.rejects(ensureMirror(dir, 'file:///srv/repo.git'), (err) => hasCode(err, 'airlock:checkout-failed'));
  });

  it('refuses a URL that git could read as an option', async () => {
    await assert.rejects(ensureMirror(join(work, 'm2'), '--upload-pack=touch PWNED'), (err) => hasCode(err, 'airlock:bad-remote-url'));
    assert.equal(existsSync(join(work, 'm2')), false);
  });
});

describe('fetchCommit', () => {
  let remote: Remote;
  let work: string;
  let mirror: string;

  before(async () => {
    remote = await makeRemote();
    work = await mkdtemp(join(tmpdir(), 'airlock-fetch-'));
    mirror = join(work, 'mirror');
    await ensureMirror(mirror, remote.url);
  });
  after(async () => {
    await remote.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  it('fetches exactly the commit, and only it (no tags, no other refs)', async () => {
    const other = await pushCommit(remote, { 'other.tf': '' }, { refs: ['refs/heads/other'] });
    await git(['tag', 'v1', other], { cwd: remote.dir, env: { GIT_DIR: remote.dir } });
    const sha = await pushCommit(remote, { 'main.tf': 'x' }, { refs: ['refs/pull/1/head'] });
    await fetchCommit(mirror, remote.url, sha);
    const env = { GIT_DIR: mirror };
    assert.equal((await git(['cat-file', '-t', sha], { cwd: mirror, env })).trim(), 'commit');
    const refs = (await git(['for-each-ref', '--format=%(refname)'], { cwd: mirror, env })).trim().split('\n');
    assert.deepEqual(refs, [`refs/airlock/fetched/${sha}`]);
    await assert.rejects(git(['cat-file', '-e', other], { cwd: mirror, env }));
  });

  it('fetching a commit it already has is fine', async () => {
    const sha = await pushCommit(remote, { 'again.tf': '' }, { refs: ['refs/pull/3/head'] });
    await fetchCommit(mirror, remote.url, sha);
    await fetchCommit(mirror, remote.url, sha);
  });

  const badShas = [
    'HEAD',
    'refs/pull/1/head',
    'A'.repeat(40),
    'a'.repeat(39),
    'a'.repeat(41),
    `${'a'.repeat(40)}\n`,
    '--upload-pack=touch PWNED',
    `${'a'.repeat(40)}:refs/heads/x`,
    '',
  ];
  for (const bad of badShas) {
    it(`refuses ${JSON.stringify(bad)} before git runs`, async () => {
      // A mirror that does not exist: had git (or the mirror check) run, the error would be another one.
      const missing = join(work, 'never-created');
      await assert.rejects(fetchCommit(missing, remote.url, bad), (err: Error) => {
        assert.ok(hasCode(err, 'airlock:bad-sha'), String(err));
        return true;
      });
      assert.equal(existsSync(missing), false);
      assert.equal(existsSync(join(process.cwd(), 'PWNED')), false);
    });
  }

  it('a sha the remote never had → airlock:commit-gone', async () => {
    const sha = 'd'.repeat(40);
    await assert.rejects(fetchCommit(mirror, remote.url, sha), (err: Error) => {
      assert.ok(hasCode(err, 'airlock:commit-gone'), String(err));
      assert.match(err.message, /the head moved before it could be fetched; the run is aborted, the newer head will be planned/);
      assert.ok(err.message.includes(sha));
      return true;
    });
  });

  it('a head force-pushed away (and collected) before the fetch → airlock:commit-gone', async () => {
    const seen = await pushCommit(remote, { 'main.tf': 'first' }, { refs: ['refs/pull/9/head'] });
    await deleteRef(remote, 'refs/pull/9/head');
    await pushCommit(remote, { 'main.tf': 'rewritten' }, { refs: ['refs/pull/9/head'] });
    await pruneRemote(remote);
    await assert.rejects(fetchCommit(mirror, remote.url, seen), (err) => hasCode(err, 'airlock:commit-gone'));
  });

  it('a sha naming a tree is refused as not a commit', async () => {
    const sha = await pushCommit(remote, { 'main.tf': 'tree' }, { refs: ['refs/heads/t'] });
    const tree = (await git(['rev-parse', `${sha}^{tree}`], { cwd: remote.dir, env: { GIT_DIR: remote.dir } })).trim();
    await assert.rejects(fetchCommit(mirror, remote.url, tree), (err: Error) => {
      assert.ok(hasCode(err, 'airlock:bad-sha'), String(err));
      assert.match(err.message, /not a commit/);
      return true;
    });
  });

  it('refuses to fetch into a directory that is not a mirror', async () => {
    const sha = await pushCommit(remote, { 'a.tf': '' }, { refs: ['refs/heads/n'] });
    const plain = join(work, 'plain');
    await mkdir(plain);
    await assert.rejects(fetchCommit(plain, remote.url, sha), (err) => hasCode(err, 'airlock:checkout-failed'));
  });

  it('runs no hook from the mirror, even when its config points at them', async () => {
    const sha = await pushCommit(remote, { 'main.tf': 'hooks' }, { refs: ['refs/pull/2/head'] });
    const marker = join(work, 'HOOK-RAN');
    const hooks = join(mirror, 'hooks');
    await mkdir(hooks, { recursive: true });
    for (const hook of ['reference-transaction', 'post-checkout', 'pre-auto-gc', 'post-index-change']) {
      await writeFile(join(hooks, hook), `#!/bin/sh\necho ${hook} >> '${marker}'\n`);
      await chmod(join(hooks, hook), 0o755);
    }
    // As if someone had edited the mirror's config: only our command-line config stands in the way.
    await appendFile(join(mirror, 'config'), `[core]\n\thooksPath = ${hooks}\n`);
    try {
      // The setup is live: plain git in this mirror does run the hook.
      const env = { GIT_DIR: mirror };
      const probe = (await git(['hash-object', '-w', '--stdin'], { cwd: mirror, env, input: 'probe' })).trim();
      await git(['update-ref', 'refs/probe', probe], { cwd: mirror, env });
      await git(['update-ref', '-d', 'refs/probe'], { cwd: mirror, env });
      assert.equal(existsSync(marker), true, 'fixture hook did not run under plain git');
      await rm(marker);

      await fetchCommit(mirror, remote.url, sha);
      await exportCommit(mirror, sha, join(work, 'hook-export'), DEFAULT_CHECKOUT_LIMITS);
      assert.equal(existsSync(marker), false, 'a mirror hook ran');
    } finally {
      await rm(hooks, { recursive: true, force: true });
      await writeFile(join(mirror, 'config'), (await readFile(join(mirror, 'config'), 'utf8')).replace(`\thooksPath = ${hooks}\n`, ''));
    }
  });

  it('never uses the ext:: transport, even when the mirror config allows it', async () => {
    const marker = join(work, 'PWNED-ext');
    await appendFile(join(mirror, 'config'), '[protocol "ext"]\n\tallow = always\n');
    await assert.rejects(fetchCommit(mirror, `ext::touch ${marker}`, 'e'.repeat(40)), (err) => hasCode(err, 'airlock:fetch-failed'));
    assert.equal(existsSync(marker), false, 'the ext:: command ran');
  });

  it('masks credentials in fetch errors', async () => {
    await assert.rejects(fetchCommit(mirror, 'http://bot:s3cret-value@127.0.0.1:9/r.git', 'e'.repeat(40), { timeoutMs: 10_000 }), (err: Error) => {
      assert.ok(hasCode(err, 'airlock:fetch-failed'), String(err));
      assert.ok(err.message.includes('http://***@127.0.0.1:9/r.git'), err.message);
      assert.ok(!err.message.includes('s3cret'), err.message);
      return true;
    });
  });

  it('kills the fetch at the timeout', async () => {
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const started = Date.now();
    try {
      await assert.rejects(fetchCommit(mirror, `git://127.0.0.1:${port}/r.git`, 'e'.repeat(40), { timeoutMs: 300 }), (err: Error) => {
        assert.ok(hasCode(err, 'airlock:fetch-failed'), String(err));
        assert.match(err.message, /timed out/);
        return true;
      });
      assert.ok(Date.now() - started < 4_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
