// A writer killed with SIGKILL in the middle of a write leaves a torn tail. Every record it acknowledged
// is still on the chain; the runner's start-up moves the torn bytes aside, records audit.recovered, and
// `airlock audit verify` passes over the continued chain.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { open, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AuditRecord } from '../../src/audit/audit.ts';
import { verifyChainFile } from '../../src/audit/verify-files.ts';
import { main } from '../../src/cli/main.ts';
import { makeRemote } from '../git-fixtures.ts';
import { deletePrefix, removeDir, startTestRunner, tempDir, testPrefix, writeConfig } from '../support/harness.ts';
import { readLines } from './chain-fixture.ts';

const APPENDER = fileURLToPath(new URL('./append-loop.ts', import.meta.url));

async function endsTorn(file: string): Promise<boolean> {
  const handle = await open(file, 'r').catch(() => null);
  if (!handle) return false;
  try {
    const { size } = await handle.stat();
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    await handle.close();
  }
}

/** Run the appender on `file` and SIGKILL it while a record is half written; returns the acknowledged hashes. */
async function killMidWrite(file: string): Promise<Map<number, string>> {
  const child = spawn(process.execPath, ['--import', 'tsx', APPENDER, file, '64000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acked = new Map<number, string>();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    for (const m of d.toString().matchAll(/ACK (\d+) ([0-9a-f]{64})/g)) acked.set(Number(m[1]), m[2]!);
  });
  const exited = new Promise((r) => child.once('exit', r));
  const deadline = Date.now() + 20_000;
  // Kill once a few records are acknowledged and the file ends inside a record.
  while (!(acked.size >= 3 && (await endsTorn(file)))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the appender never got mid-write: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  child.kill('SIGKILL');
  await exited;
  return acked;
}

test('SIGKILL mid-write: acknowledged records survive, start-up recovers the torn tail, verify passes', async (t) => {
  const root = await tempDir('kill-audit');
  const remote = await makeRemote();
  const prefix = testPrefix();
  t.after(async () => {
    await deletePrefix(prefix);
    await remote.cleanup();
    await removeDir(root);
  });
  const loaded = await writeConfig({ remoteUrl: remote.url, dataDir: path.join(root, 'data'), prefix });
  const chain = path.join(loaded.config.runner.dataDir, 'audit', `${loaded.config.runner.id}.jsonl`);

  // A kill can land between two writes; try again until one lands inside a record.
  let acked = new Map<number, string>();
  for (let attempt = 0; attempt < 5 && !(await endsTorn(chain)); attempt++) {
    await removeDir(path.dirname(chain));
    acked = await killMidWrite(chain);
  }
  assert.ok(await endsTorn(chain), 'the kill left a torn tail');
  const before = await verifyChainFile(chain);
  assert.equal(before.ok, false);
  assert.equal(!before.ok && before.break.reason, 'unparsable');

  // Nothing acknowledged was lost: every ACKed record is on the valid prefix, with the same hash.
  const complete = (await readLines(chain)).slice(0, before.records).map((l) => JSON.parse(l) as AuditRecord);
  for (const [seq, hash] of acked) assert.equal(complete[seq - 1]?.hash, hash, `acknowledged seq ${seq} is on the chain`);
  const tornBytes = (await readFile(chain)).subarray(Buffer.byteLength(complete.map((r) => `${JSON.stringify(r)}\n`).join('')));

  // Start-up: the runner opens its chain (the dead appender's lock is stale), recovers and witnesses it.
  const { runner, log } = await startTestRunner(loaded);
  await runner.stop();
  const after = await readLines(chain);
  const recovered = JSON.parse(after[before.records]!) as AuditRecord;
  assert.equal(recovered.type, 'audit.recovered');
  assert.equal(recovered.seq, before.records + 1);
  assert.equal(recovered.detail?.['bytes'], tornBytes.length);
  const aside = (await readdir(path.dirname(chain))).filter((n) => n.includes('.torn-'));
  assert.deepEqual(aside, [recovered.detail?.['movedTo']]);
  assert.deepEqual(await readFile(path.join(path.dirname(chain), aside[0]!)), tornBytes);
  const witnessed = log.lines().find((l) => l['event'] === 'audit.witness' && l['reason'] === 'start');
  assert.equal(witnessed?.['verified'], true, 'the runner verified the continued chain at start-up');
  assert.equal(witnessed?.['seq'], recovered.seq);

  let out = '';
  const code = await main(['node', 'airlock', 'audit', 'verify', '--config', loaded.file], { out: (s) => (out += s), err: (s) => (out += s), isTTY: false });
  assert.equal(code, 0, out);
  assert.match(out, new RegExp(`ok +test\\.jsonl +${recovered.seq} records +head ${recovered.hash}`));
});
