// The deploy/ walkthrough's files, checked by their own tools as far as this machine allows: the unit with
// systemd-analyze (verify, and the offline security score), deploy/redis.conf loaded by redis-server on a
// spare port, egress.nft with `nft -c`, ntfy/acl.sh run non-interactively against a stand-in ntfy CLI with
// the token paths of runners/example.yaml (backups: backup-drill.test.ts). Each check has a negative
// control: the same tool on a mutated file must fail.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { access, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { parse } from 'yaml';
import { parseConfigText } from '../../src/config/load.ts';
import { buildBwrapArgs } from '../../src/sandbox/sandbox.ts';
import { removeDir, tempDir } from '../support/harness.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEPLOY = path.join(ROOT, 'deploy');
const UNIT = path.join(DEPLOY, 'airlock@.service');

async function has(cmd: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${cmd}`]).then(() => true, () => false);
}
const NO_SYSTEMD = !(await has('systemd-analyze')) && 'systemd-analyze is not installed (apt-get install systemd)';
const NO_NFT = !(await has('nft')) && 'nft is not installed (apt-get install nftables)';
const NO_REDIS = !(await has('redis-server')) && 'redis-server is not installed';

async function withTemp<T>(t: { after(fn: () => Promise<void>): void }, label: string): Promise<string> {
  const dir = await tempDir(label);
  t.after(() => removeDir(dir));
  return dir;
}

/** `systemd-analyze verify` of an instance of the unit in `text`: its complaints (exit code and stderr). */
async function verifyUnit(dir: string, text: string): Promise<string[]> {
  await writeFile(path.join(dir, 'airlock@.service'), text);
  const r = await run('systemd-analyze', ['verify', path.join(dir, 'airlock@check.service')]).then(
    (ok) => ({ code: 0, err: ok.stderr }),
    (err: { code: number; stderr: string }) => ({ code: err.code, err: err.stderr }),
  );
  // verify says nothing about a good unit; it warns (and still exits 0) about a line it cannot parse.
  const complaints = r.err.split('\n').filter((l) => l.includes('airlock@'));
  return r.code === 0 ? complaints : [`exit ${r.code}`, ...complaints];
}

/** The unit with a drop-in's [Service] lines added, as systemd merges them. */
function withDropIn(unit: string, dropIn: string): string {
  const lines = dropIn.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#') && l.trim() !== '[Service]');
  return unit.replace('[Install]', `${lines.join('\n')}\n\n[Install]`);
}

function directive(unit: string, key: string): string[] {
  return [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());
}

async function securityScore(dir: string, text: string): Promise<number> {
  const file = path.join(dir, 'score@.service');
  await writeFile(file, text);
  const { stdout } = await run('systemd-analyze', ['security', '--offline=yes', '--no-pager', file]);
  const score = /Overall exposure level for .*: (\d+\.\d+)/.exec(stdout)?.[1];
  assert.ok(score, stdout.slice(-400));
  return Number(score);
}

describe('the systemd unit', () => {
  it('is a template that verifies, alone and with the root drop-in; a mutated copy does not', { skip: NO_SYSTEMD }, async (t) => {
    const dir = await withTemp(t, 'unit');
    const unit = await readFile(UNIT, 'utf8');
    assert.deepEqual(await verifyUnit(dir, unit), []);
    assert.deepEqual(await verifyUnit(dir, withDropIn(unit, await readFile(path.join(DEPLOY, 'airlock-root.conf'), 'utf8'))), []);
    assert.deepEqual(await verifyUnit(dir, withDropIn(unit, await readFile(path.join(DEPLOY, 'egress.conf'), 'utf8'))), []);
    // negative control: a bad value is reported
    assert.notDeepEqual(await verifyUnit(dir, unit.replace(/^KillMode=mixed$/m, 'KillMode=bogus')), []);
  });

  it('stops without cutting an apply: KillMode=mixed and TimeoutStopSec beyond the default apply and plan timeouts', async () => {
    const unit = await readFile(UNIT, 'utf8');
    assert.deepEqual(directive(unit, 'KillMode'), ['mixed']);
    const stop = /^(\d+)min$/.exec(directive(unit, 'TimeoutStopSec')[0] ?? '');
    assert.ok(stop, 'TimeoutStopSec in minutes');
    const { timeouts } = parseConfigText('repos: []\n', 'defaults.yaml').engine;
    const stopMs = Number(stop[1]) * 60_000;
    assert.ok(stopMs > timeouts.apply, `TimeoutStopSec ${stop[1]}min must exceed the apply timeout ${timeouts.apply / 60_000}min`);
    assert.ok(stopMs > timeouts.init + timeouts.plan + timeouts.show, 'and a whole plan job');
    assert.deepEqual(directive(unit, 'StateDirectory'), ['airlock/%i']);
  });

  it('allows every namespace the unprivileged sandbox makes, and no /proc overmount that would stop bwrap mounting /proc', async () => {
    const unit = await readFile(UNIT, 'utf8');
    const facts = { symlinkedRootDirs: {}, realRootDirs: [], etcPaths: [], setpriv: null } as unknown as Parameters<typeof buildBwrapArgs>[1];
    const args = buildBwrapArgs({ cwd: '/w', writable: [], shared: [], readOnly: [], files: {}, network: 'none' } as unknown as Parameters<typeof buildBwrapArgs>[0], facts, { readOnlyPaths: [] }, null);
    const needed = new Set(['mnt', ...args.filter((a) => a.startsWith('--unshare-')).map((a) => a.replace('--unshare-', '').replace('-try', ''))]);
    const allowed = new Set(directive(unit, 'RestrictNamespaces').join(' ').split(/\s+/));
    for (const ns of needed) assert.ok(allowed.has(ns), `RestrictNamespaces must allow ${ns} (bwrap ${[...needed].join(', ')})`);
    assert.ok(needed.has('user') && needed.has('net'), 'the probe of the sandbox arguments found the namespaces');
    for (const key of ['ProtectKernelTunables', 'ProtectKernelLogs', 'ProcSubset', 'ProtectHostname']) assert.deepEqual(directive(unit, key), [], `${key} breaks the unprivileged sandbox`);
    assert.ok(directive(unit, 'SystemCallFilter').join(' ').includes('@mount'), 'bwrap mounts');
    assert.deepEqual(directive(unit, 'IPAddressDeny'), ['any']);
  });

  it('scores better than the old unit under `systemd-analyze security --offline`', { skip: NO_SYSTEMD }, async (t) => {
    const dir = await withTemp(t, 'score');
    const unit = await readFile(UNIT, 'utf8');
    const root = withDropIn(unit, await readFile(path.join(DEPLOY, 'airlock-root.conf'), 'utf8'));
    const [plain, asRoot] = [await securityScore(dir, unit), await securityScore(dir, root)];
    t.diagnostic(`exposure: unprivileged ${plain}, with the root drop-in ${asRoot} (the old airlock.service scored 5.3 and 7.0)`);
    assert.ok(plain <= 3.0, `unprivileged unit scores ${plain}`);
    assert.ok(asRoot <= 4.5, `root drop-in scores ${asRoot}`);
    // negative control: without the hardening block the score is what the issue measured
    const bare = unit.slice(0, unit.indexOf('# --- Hardening')) + '\n[Install]\nWantedBy=multi-user.target\n';
    assert.ok((await securityScore(dir, bare)) > 5, 'the score does see the hardening');
  });
});

describe('deploy/redis.conf', () => {
  it('loads on a spare port with the scoped ACL user, AOF, noeviction and a dir; a broken copy does not load', { skip: NO_REDIS }, async (t) => {
    const dir = await withTemp(t, 'redis-conf');
    const conf = await readFile(path.join(DEPLOY, 'redis.conf'), 'utf8');
    assert.match(conf, /^dir \/var\/lib\/redis$/m);
    const port = await freePort();
    const server = spawn('redis-server', [path.join(DEPLOY, 'redis.conf'), '--port', String(port), '--dir', dir, '--daemonize', 'no', '--user', 'probe', 'on', '>probe-pw', '~*', '+@all'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    server.stdout.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((resolve) => server.on('exit', resolve));
    t.after(() => void server.kill('SIGKILL'));
    for (let i = 0; i < 100 && !log.includes('Ready to accept connections'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(log, /Ready to accept connections/, log.slice(-500));
    const redis = new Redis({ port, host: '127.0.0.1', username: 'probe', password: 'probe-pw', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    await redis.connect();
    try {
      const user = (await redis.call('ACL', 'GETUSER', 'airlock')) as unknown[];
      const field = (name: string) => user[user.indexOf(name) + 1];
      assert.equal(field('keys'), '~airlock:*');
      assert.match(String(field('commands')), /-@all|\+@all -@admin/);
      assert.deepEqual(await redis.config('GET', 'appendonly'), ['appendonly', 'yes']);
      assert.deepEqual(await redis.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'noeviction']);
      assert.equal((await redis.call('ACL', 'GETUSER', 'default') as unknown[])[1]?.toString().includes('off'), true, 'the default user is off');
      await redis.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
    } finally {
      redis.disconnect();
    }
    assert.equal(await exited, 0, log.slice(-500));
    await access(path.join(dir, 'appendonlydir'));
    // negative control: redis-server refuses a broken copy, so "it loaded" means something
    const bad = path.join(dir, 'bad.conf');
    await writeFile(bad, conf.replace('appendonly yes', 'appendonly maybe'));
    const refused = await run('redis-server', [bad, '--port', String(await freePort()), '--dir', dir]).then(() => 0, (e: { code: number }) => e.code);
    assert.notEqual(refused, 0);
  });
});

describe('deploy/egress.nft', () => {
  it('passes `nft -c`, covers IPv6, and lets DNS out only to the resolver; a mutated copy fails', { skip: NO_NFT }, async (t) => {
    const text = await readFile(path.join(DEPLOY, 'egress.nft'), 'utf8');
    await run('nft', ['-c', '-f', path.join(DEPLOY, 'egress.nft')]);
    assert.match(text, /^\s*ip6 daddr @allowed_v6 /m, 'IPv6 is filtered too');
    const dnsAccepts = text.split('\n').filter((l) => /dport 53 accept/.test(l));
    assert.equal(dnsAccepts.length, 2);
    for (const l of dnsAccepts) assert.match(l, /daddr \$RESOLVER_V[46] /, `DNS goes to the resolver only: ${l.trim()}`);
    const dir = await withTemp(t, 'nft');
    await writeFile(path.join(dir, 'bad.nft'), text.replace('type ipv6_addr', 'type ipv6_address'));
    await assert.rejects(run('nft', ['-c', '-f', path.join(dir, 'bad.nft')]));
  });
});

describe('ntfy: acl.sh and server.yml', () => {
  it('acl.sh runs without a terminal and writes the token files runners/example.yaml names', async (t) => {
    const example = parse(await readFile(path.join(ROOT, 'runners/example.yaml'), 'utf8')) as { approval: { ntfy: { publishTokenFile: string; subscribeTokenFile: string; approvers: Array<{ name: string; replyTokenFile: string }> } } };
    const ntfy = example.approval.ntfy;
    const dir = await withTemp(t, 'acl');
    await mkdir(path.join(dir, 'bin'));
    await mkdir(path.join(dir, 'double'));
    await symlink(path.join(ROOT, 'test/doubles/ntfy-cli-double'), path.join(dir, 'bin/ntfy'));
    const out = path.join(dir, 'out');
    const env = { PATH: `${path.join(dir, 'bin')}:/usr/bin:/bin`, NTFY_DOUBLE_DIR: path.join(dir, 'double'), APPROVERS: ntfy.approvers.map((a) => a.name).join(' '), OUT: out };
    const { stdout } = await run('sh', [path.join(DEPLOY, 'ntfy/acl.sh')], { env }); // execFile gives no terminal and no stdin
    for (const file of [ntfy.publishTokenFile, ntfy.subscribeTokenFile, ...ntfy.approvers.map((a) => a.replyTokenFile)]) {
      assert.equal(path.dirname(file), '/etc/airlock/secrets', file);
      const token = await readFile(path.join(out, path.basename(file)), 'utf8');
      assert.match(token, /^tk_[A-Za-z0-9]+$/, `${path.basename(file)} holds one token`);
    }
    const printed = parse(stdout) as Array<{ name: string; replyTokenFile: string; notifyTopic: string }>;
    assert.deepEqual(printed.map((a) => [a.name, a.replyTokenFile]), ntfy.approvers.map((a) => [a.name, a.replyTokenFile]), 'the printed approvers drop into the config as they are');
    assert.match(printed[0]!.notifyTopic, /^airlock-[a-z0-9.-]+-notify-[A-Za-z0-9]{12}$/);
    // negative control: the stand-in refuses a prompt, so the script would fail if it asked for a password
    await assert.rejects(run(path.join(dir, 'bin/ntfy'), ['user', 'add', 'someone'], { env }));
    const readme = await readFile(path.join(DEPLOY, 'README.md'), 'utf8');
    for (const file of [ntfy.publishTokenFile, ntfy.subscribeTokenFile]) assert.ok(readme.includes(file), `deploy/README.md names ${file}`);
  });

  it('server.yml names hosts, not addresses (loopback aside)', async () => {
    const text = await readFile(path.join(DEPLOY, 'ntfy/server.yml'), 'utf8');
    const addresses = [...text.matchAll(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g)].map((m) => m[0]).filter((a) => !a.startsWith('127.'));
    assert.deepEqual(addresses, []);
    assert.match(text, /^visitor-request-limit-exempt-hosts: "[a-z][a-z0-9.-]+"/m);
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
