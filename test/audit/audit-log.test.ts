// The chain writer: group commit never acknowledges before fsync, concurrent appends make one valid
// chain, the file is 0600, secrets never reach it, one writer per file, a failed write stops the log,
// and a torn tail is moved aside and recorded.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFile, chmod, open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { AuditRecord } from '../../src/audit/audit.ts';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { verifyChainFile } from '../../src/audit/verify-files.ts';
import { hasCode } from '../../src/errors.ts';
import { Scrubber } from '../../src/log/scrub.ts';
import { removeDir, tempDir } from '../support/harness.ts';
import { canMount, mountSmallDisk } from '../support/small-disk.ts';
import { readLines, sampleInput, writeChain } from './chain-fixture.ts';

const CANARY = 'canary-audit-5e1f0c9d-not-a-secret';

async function dirFor(t: import('node:test').TestContext, label: string): Promise<string> {
  const dir = await tempDir(label);
  t.after(() => removeDir(dir));
  return dir;
}

for (const groupCommit of [true, false]) {
  test(`concurrent appends make one valid chain, each acknowledged only after its bytes were fsynced (group commit ${groupCommit ? 'on' : 'off'})`, async (t) => {
    const dir = await dirFor(t, 'group');
    const file = path.join(dir, 'runner.jsonl');
    // Watch every fsync of the process: how many bytes of the chain were on disk when it returned.
    const probe = await open(path.join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { sync(): Promise<void> };
    await probe.close();
    const realSync = proto.sync;
    let synced = 0;
    let syncs = 0;
    proto.sync = async function (this: { stat(): Promise<{ size: number }> }) {
      const { size } = await this.stat();
      await realSync.call(this);
      syncs++;
      synced = Math.max(synced, size);
    };
    t.after(() => {
      proto.sync = realSync;
    });

    const log = await AuditLog.open(file, { scrubber: new Scrubber(), groupCommit });
    const ackedWith = new Map<number, number>();
    const records = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        log.append(sampleInput(i + 1)).then((r) => {
          ackedWith.set(r.seq, synced);
          return r;
        }),
      ),
    );
    await log.close();
    const lines = await readLines(file);
    assert.deepEqual(records.map((r) => r.seq), Array.from({ length: 200 }, (_, i) => i + 1), 'appends get seqs in call order');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as AuditRecord).hash), records.map((r) => r.hash));
    let end = 0;
    for (const line of lines) {
      end += Buffer.byteLength(line) + 1;
      const seq = (JSON.parse(line) as AuditRecord).seq;
      assert.ok(ackedWith.get(seq)! >= end, `seq ${seq} was acknowledged with ${ackedWith.get(seq)} bytes synced, needs ${end}`);
    }
    if (groupCommit) assert.ok(syncs < 200, `appends shared fsyncs (${syncs} for 200 records)`);
    else assert.ok(syncs >= 200, `one fsync per record (${syncs})`);
    const result = await verifyChainFile(file);
    assert.equal(result.ok && result.records, 200);
  });
}

test('the chain file is 0600, even when it existed with a looser mode', async (t) => {
  const dir = await dirFor(t, 'mode');
  const { file } = await writeChain(dir, 1);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  await chmod(file, 0o644);
  const log = await AuditLog.open(file, { scrubber: new Scrubber() });
  await log.close();
  assert.equal((await stat(file)).mode & 0o777, 0o600);
});

test('canary secrets never reach the audit file: not in a detail value, a key, an error message or a subject', async (t) => {
  const dir = await dirFor(t, 'canary');
  const scrubber = new Scrubber();
  scrubber.add(CANARY);
  const file = path.join(dir, 'runner.jsonl');
  const log = await AuditLog.open(file, { scrubber });
  const err = new Error(`vault said no for token ${CANARY}`);
  await log.append(sampleInput(1, { detail: { message: err.message, nested: [{ output: `line ${CANARY} end` }], [`key-${CANARY}`]: 1 } }));
  await log.append(sampleInput(2, { type: 'apply.failed', detail: { code: 'airlock:apply-error', message: err.message, err: err as unknown as Record<string, unknown> } }));
  await log.append(sampleInput(3, { subject: { repo: 'infra', pr: 1, ref: 'refs/pull/1/head', sha: 'b'.repeat(40), workspace: 'default', author: `Agent ${CANARY} <a@b.c>` } }));
  await log.append(sampleInput(4, { detail: { base64: Buffer.from(CANARY).toString('base64'), url: encodeURIComponent(CANARY) } }));
  await log.close();
  const text = await readFile(file, 'utf8');
  assert.ok(!text.includes(CANARY), text);
  assert.ok(!text.includes(Buffer.from(CANARY).toString('base64')));
  assert.match(text, /vault said no for token \[scrubbed\]/);
  assert.equal((await verifyChainFile(file)).ok, true, 'the scrubbed records are what was hashed');
});

test('one writer per chain: a second writer is refused, a dead writer\'s lock is taken over', async (t) => {
  const dir = await dirFor(t, 'lock');
  const file = path.join(dir, 'runner.jsonl');
  const first = await AuditLog.open(file, { scrubber: new Scrubber() });
  await assert.rejects(AuditLog.open(file, { scrubber: new Scrubber() }), (err) => hasCode(err, 'airlock:audit-locked'));
  await first.close();
  // A lock left by a process that no longer exists on this host.
  await writeFile(`${file}.lock`, `2147483646@${hostname()}`);
  const second = await AuditLog.open(file, { scrubber: new Scrubber() });
  await second.append(sampleInput(1));
  await second.close();
  assert.deepEqual((await readdir(dir)).sort(), ['runner.jsonl'], 'no lock or temp files are left behind');
});

test('a failed write acknowledges nothing and stops the log; a restart continues a valid chain', async (t) => {
  const dir = await dirFor(t, 'fail');
  const file = path.join(dir, 'runner.jsonl');
  const log = await AuditLog.open(file, { scrubber: new Scrubber() });
  await log.append(sampleInput(1));
  // Pull the file descriptor out from under the writer: the next write fails with EBADF.
  await (log as unknown as { handle: { close(): Promise<void> } }).handle.close();
  await assert.rejects(log.append(sampleInput(2)), (err) => hasCode(err, 'airlock:audit-write-failed'));
  await assert.rejects(log.append(sampleInput(3)), (err) => hasCode(err, 'airlock:audit-write-failed'), 'no append after a failure');
  await log.close().catch(() => undefined);
  const again = await AuditLog.open(file, { scrubber: new Scrubber() });
  const r = await again.append(sampleInput(4));
  await again.close();
  assert.equal(r.seq, 2);
  assert.equal((await verifyChainFile(file)).ok, true);
});

for (const size of ['small', 'longer than the 64 KiB read window'] as const) {
  test(`a torn tail (${size}) is moved aside, recorded as audit.recovered, and the chain continues`, async (t) => {
    const dir = await dirFor(t, 'torn');
    const { file, lines } = await writeChain(dir, 3);
    const torn = size === 'small' ? '{"seq":4,"time":"2026-01-01T00:00:00.000Z","type":"apply.sta' : `{"seq":4,"detail":{"x":"${'y'.repeat(200_000)}`;
    await appendFile(file, torn);
    assert.equal((await verifyChainFile(file)).ok, false, 'before recovery the torn line fails verify');

    const log = await AuditLog.open(file, { scrubber: new Scrubber() });
    const next = await log.append(sampleInput(99));
    await log.close();
    const after = await readLines(file);
    assert.deepEqual(after.slice(0, 3), lines, 'complete records are untouched');
    const recovered = JSON.parse(after[3]!) as AuditRecord;
    assert.equal(recovered.type, 'audit.recovered');
    assert.equal(recovered.seq, 4);
    assert.equal(recovered.detail?.['bytes'], Buffer.byteLength(torn));
    assert.equal(recovered.detail?.['sha256'], createHash('sha256').update(torn).digest('hex'));
    const aside = (await readdir(dir)).filter((n) => n.startsWith('test.jsonl.torn-'));
    assert.equal(aside.length, 1);
    assert.equal(recovered.detail?.['movedTo'], aside[0]);
    assert.equal(await readFile(path.join(dir, aside[0]!), 'utf8'), torn, 'the torn bytes are kept as evidence');
    assert.equal((await stat(path.join(dir, aside[0]!))).mode & 0o777, 0o600);
    assert.equal(next.seq, 5);
    const result = await verifyChainFile(file);
    assert.deepEqual(result.ok && [result.records, result.head.hash], [5, next.hash]);
  });
}

test('a complete but unreadable last line is not guessed at: opening refuses with a hint', async (t) => {
  const dir = await dirFor(t, 'corrupt');
  const { file } = await writeChain(dir, 2);
  await appendFile(file, 'garbage\n');
  await assert.rejects(AuditLog.open(file, { scrubber: new Scrubber() }), (err) => hasCode(err, 'airlock:audit-corrupt'));
  // The lock is released after a refused open.
  await assert.rejects(readFile(`${file}.lock`), { code: 'ENOENT' });
});

test('a full disk: the write is refused and nothing after it acknowledged; once space returns the chain is cut back to what was acknowledged and goes on', { skip: !canMount() && 'mounts a small tmpfs (root only)' }, async (t) => {
  const root = await tempDir('audit-full');
  const disk = await mountSmallDisk(path.join(root, 'audit'), 2 * 1024 * 1024);
  t.after(async () => {
    await disk.unmount();
    await removeDir(root);
  });
  const file = path.join(disk.dir, 'r1.jsonl');
  const log = await AuditLog.open(file, { scrubber: new Scrubber() });
  await log.append(sampleInput(1));
  await log.append(sampleInput(2));
  const acknowledged = log.bytes;
  assert.equal(await log.writableProblem(), null);

  await disk.fill();
  assert.match((await log.writableProblem()) ?? '', /KiB free/);
  // A record big enough not to fit: the write fails part way, with ENOSPC.
  const big = { ...sampleInput(3), detail: { blob: 'x'.repeat(256 * 1024) } };
  await assert.rejects(log.append(big), (err: Error) => hasCode(err, 'airlock:audit-write-failed') && /ENOSPC/.test(err.message));
  await assert.rejects(log.append(sampleInput(4)), (err: Error) => hasCode(err, 'airlock:audit-write-failed'), 'nothing more is acknowledged');
  await assert.rejects(log.assertWritable(), (err: Error) => hasCode(err, 'airlock:audit-unwritable'));
  assert.equal(await log.heal(), false, 'no healing while the disk is full');

  await disk.free();
  assert.equal(await log.heal(), true);
  await log.append(sampleInput(5));
  await log.close();
  const records = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as AuditRecord);
  assert.deepEqual(records.map((r) => r.seq), [1, 2, 3, 4]);
  assert.equal(records[2]!.type, 'audit.resumed');
  assert.deepEqual((records[2]!.detail?.['refused'] as Array<{ type: string }>).map((r) => r.type), [big.type, sampleInput(4).type]);
  assert.ok(records[2]!.detail?.['failedAt']);
  assert.equal((await verifyChainFile(file)).ok, true);
  assert.ok((await stat(file)).size > acknowledged);
});

test('a full disk at open: a clear coded error naming the audit directory, not a bare errno', { skip: !canMount() && 'mounts a small tmpfs (root only)' }, async (t) => {
  const root = await tempDir('audit-full-open');
  const disk = await mountSmallDisk(path.join(root, 'audit'), 1024 * 1024);
  t.after(async () => {
    await disk.unmount();
    await removeDir(root);
  });
  await disk.fill();
  await assert.rejects(AuditLog.open(path.join(disk.dir, 'r1-cli.jsonl'), { scrubber: new Scrubber() }), (err: Error) => hasCode(err, 'airlock:audit-unwritable') && /KiB free on the audit directory/.test(err.message));
});
