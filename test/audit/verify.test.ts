// Tampering with a chain file is caught, and the first bad seq is named with the right reason: one
// flipped byte, two swapped lines, a deleted line, a rewritten record, garbage; a truncated tail is
// caught by --against a head witnessed earlier. Through the pure verifier and through `airlock audit verify`.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { hashRecord, type AuditRecord } from '../../src/audit/audit.ts';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { verifyLines } from '../../src/audit/verify.ts';
import { verifyChainFile } from '../../src/audit/verify-files.ts';
import { main } from '../../src/cli/main.ts';
import { Scrubber } from '../../src/log/scrub.ts';
import { removeDir, tempDir } from '../support/harness.ts';
import { readLines, writeChain, writeLines } from './chain-fixture.ts';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['node', 'airlock', ...args], { out: (s) => (out += `${s}\n`), err: (s) => (err += `${s}\n`), isTTY: false });
  return { code, out, err };
}

async function fixture(t: import('node:test').TestContext, n = 10) {
  const dir = await tempDir('verify');
  t.after(() => removeDir(dir));
  return { dir, ...(await writeChain(dir, n)) };
}

test('an untouched chain verifies: exit 0 with the record count and the head hash', async (t) => {
  const { file, lines } = await fixture(t);
  const head = (JSON.parse(lines.at(-1)!) as AuditRecord).hash;
  const result = await verifyChainFile(file);
  assert.deepEqual(result, { ok: true, records: 10, head: { seq: 10, hash: head } });
  const r = await cli('audit', 'verify', '--file', file);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`ok +test\\.jsonl +10 records +head ${head}`));
});

test('one flipped byte inside a record: edited, at that seq', async (t) => {
  const { file } = await fixture(t);
  const bytes = await readFile(file);
  const lines = bytes.toString('utf8').split('\n');
  // Flip one bit of the "7" in seq 7's "record number 7" note.
  const at = lines.slice(0, 6).join('\n').length + 1 + lines[6]!.indexOf('record number 7') + 'record number '.length;
  assert.equal(String.fromCharCode(bytes[at]!), '7');
  bytes[at] = bytes[at]! ^ 0x01;
  await writeFile(file, bytes);
  const result = await verifyChainFile(file);
  assert.equal(result.ok, false);
  assert.deepEqual(!result.ok && { seq: result.break.seq, reason: result.break.reason, line: result.break.line }, { seq: 7, reason: 'edited', line: 7 });
  assert.equal(result.records, 6, 'records before the damage still count');
  const r = await cli('audit', 'verify', '--file', file);
  assert.equal(r.code, 1);
  assert.match(r.out, /FAIL +test\.jsonl +seq 7 edited/);
});

test('a flipped byte in the hash field itself, and one that breaks the JSON: edited and unparsable', async (t) => {
  const { file, lines } = await fixture(t);
  const record = JSON.parse(lines[2]!) as AuditRecord;
  const flipped = record.hash.startsWith('0') ? `1${record.hash.slice(1)}` : `0${record.hash.slice(1)}`;
  await writeLines(file, lines.map((l, i) => (i === 2 ? l.replace(record.hash, flipped) : l)));
  const edited = await verifyChainFile(file);
  assert.deepEqual(!edited.ok && [edited.break.seq, edited.break.reason], [3, 'edited']);

  await writeLines(file, lines.map((l, i) => (i === 4 ? l.replace('{"seq"', '["seq"') : l)));
  const broken = await verifyChainFile(file);
  assert.deepEqual(!broken.ok && [broken.break.seq, broken.break.reason], [5, 'unparsable']);
});

test('two swapped lines: reordered, naming the seq that is out of place', async (t) => {
  const { file, lines } = await fixture(t);
  const swapped = [...lines];
  [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
  await writeLines(file, swapped);
  const result = await verifyChainFile(file);
  assert.deepEqual(!result.ok && [result.break.seq, result.break.reason, result.break.line], [4, 'reordered', 4]);
  const r = await cli('audit', 'verify', '--file', file);
  assert.equal(r.code, 1);
  assert.match(r.out, /seq 4 reordered/);
});

test('a deleted line: deleted, naming the missing seq; several deleted lines name the range', async (t) => {
  const { file, lines } = await fixture(t);
  await writeLines(file, lines.filter((_, i) => i !== 5));
  const one = await verifyChainFile(file);
  assert.deepEqual(!one.ok && [one.break.seq, one.break.reason], [6, 'deleted']);
  assert.match(!one.ok ? one.break.message : '', /seq 6 is missing/);

  await writeLines(file, lines.filter((_, i) => i < 2 || i > 4));
  const range = await verifyChainFile(file);
  assert.deepEqual(!range.ok && [range.break.seq, range.break.reason], [3, 'deleted']);
  assert.match(!range.ok ? range.break.message : '', /seqs 3–5 are missing/);

  await writeLines(file, lines.slice(1));
  const first = await verifyChainFile(file);
  assert.deepEqual(!first.ok && [first.break.seq, first.break.reason], [1, 'deleted'], 'deleting the first record is caught too');
});

test('an edited record whose hash was recomputed: the next record has a bad link', async (t) => {
  const { file, lines } = await fixture(t);
  const forged = JSON.parse(lines[4]!) as AuditRecord;
  forged.detail = { attempt: 1, note: 'nothing to see here' };
  const { hash: _old, ...unsealed } = forged;
  const rewritten = JSON.stringify({ ...unsealed, hash: hashRecord(unsealed) });
  await writeLines(file, lines.map((l, i) => (i === 4 ? rewritten : l)));
  const result = await verifyChainFile(file);
  assert.deepEqual(!result.ok && [result.break.seq, result.break.reason], [6, 'bad-link']);
});

test('a truncated tail still verifies on its own; --against the head witnessed before catches it', async (t) => {
  const { file, lines } = await fixture(t);
  const witnessed = (JSON.parse(lines.at(-1)!) as AuditRecord).hash;
  assert.equal((await cli('audit', 'verify', '--file', file, '--against', witnessed)).code, 0);

  await writeLines(file, lines.slice(0, 7));
  const alone = await verifyChainFile(file);
  assert.equal(alone.ok, true, 'a shorter chain is a valid chain');
  const against = await verifyChainFile(file, { against: witnessed });
  assert.equal(against.againstFound, false);
  const r = await cli('audit', 'verify', '--file', file, '--against', witnessed);
  assert.equal(r.code, 1);
  assert.match(r.out, /FAIL +--against .* not on the chain \(test\.jsonl ends at seq 7\).*truncated/);
  // An older witnessed head is still on the truncated chain.
  const older = (JSON.parse(lines[5]!) as AuditRecord).hash;
  assert.equal((await cli('audit', 'verify', '--file', file, '--against', older)).code, 0);
});

test('a torn last line without a newline is unparsable at the next seq', async (t) => {
  const { file, lines } = await fixture(t, 4);
  await writeFile(file, `${lines.join('\n')}\n{"seq":5,"time":"2026`);
  const result = await verifyChainFile(file);
  assert.deepEqual(!result.ok && [result.break.seq, result.break.reason], [5, 'unparsable']);
  assert.match(!result.ok ? result.break.message : '', /torn last line/);
  const live = await verifyChainFile(file, { ignorePartialTail: true });
  assert.equal(live.ok, true, 'a reader that tolerates a line being written skips it');
});

test('verify is pure over any stream of lines', async () => {
  const dir = await tempDir('verify-pure');
  try {
    const { lines } = await writeChain(dir, 5);
    async function* stream() {
      for (const l of lines) yield l;
    }
    assert.equal((await verifyLines(stream())).ok, true);
    const bad = await verifyLines([lines[0]!, lines[2]!, lines[1]!, lines[3]!]);
    assert.deepEqual(!bad.ok && [bad.break.seq, bad.break.reason], [2, 'reordered']);
    const dup = await verifyLines([lines[0]!, lines[1]!, lines[1]!]);
    assert.deepEqual(!dup.ok && [dup.break.seq, dup.break.reason], [3, 'reordered']);
  } finally {
    await removeDir(dir);
  }
});

test('a directory of chains: each is verified and named; one bad chain fails the command', async (t) => {
  const dir = await tempDir('verify-dir');
  t.after(() => removeDir(dir));
  await writeChain(dir, 3, 'one');
  await writeChain(dir, 4, 'one-cli');
  const two = await writeChain(dir, 5, 'two');
  await writeFile(path.join(dir, 'one.jsonl.torn-2026'), 'not a chain');
  const ok = await cli('audit', 'verify', '--file', dir);
  assert.equal(ok.code, 0, ok.out + ok.err);
  assert.match(ok.out, /one\.jsonl +3 records/);
  assert.match(ok.out, /one-cli\.jsonl +4 records/);
  assert.match(ok.out, /two\.jsonl +5 records/);
  assert.doesNotMatch(ok.out, /torn/);
  await writeLines(two.file, (await readLines(two.file)).filter((_, i) => i !== 1));
  const bad = await cli('audit', 'verify', '--file', dir, '--json');
  assert.equal(bad.code, 1);
  const report = JSON.parse(bad.out) as { ok: boolean; chains: Array<{ chain: string; ok: boolean; break?: { seq: number; reason: string } }> };
  assert.equal(report.ok, false);
  assert.deepEqual(report.chains.map((c) => [c.chain, c.ok, c.break?.seq, c.break?.reason]), [
    ['one-cli.jsonl', true, undefined, undefined],
    ['one.jsonl', true, undefined, undefined],
    ['two.jsonl', false, 2, 'deleted'],
  ]);
});

test('bad arguments get a clear error', async (t) => {
  const { file } = await fixture(t, 1);
  const r = await cli('audit', 'verify', '--file', file, '--against', 'nope');
  assert.equal(r.code, 1);
  assert.match(r.err, /--against must be a 64-hex head hash/);
  const missing = await cli('audit', 'verify', '--file', `${file}.nope`);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no audit chain at/);
});

test('any JSON detail survives the write/read round trip: a sealed record always verifies', async () => {
  const dir = await tempDir('verify-prop');
  try {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string(), fc.jsonValue()), async (detail) => {
        const file = path.join(dir, `p${n++}.jsonl`);
        const log = await AuditLog.open(file, { scrubber: new Scrubber() });
        await log.append({ type: 'x', run: null, actor: { kind: 'runner', id: 'airlock' }, detail });
        await log.append({ type: 'y', run: null, actor: { kind: 'runner', id: 'airlock' }, detail: { nested: detail } });
        await log.close();
        const result = await verifyChainFile(file);
        assert.equal(result.ok && result.records, 2, JSON.stringify(result));
      }),
      { numRuns: 150 },
    );
  } finally {
    await removeDir(dir);
  }
});
