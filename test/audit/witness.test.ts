// The witness: the chain head is logged at start-up, every interval and after every apply (whatever the
// log level), published to an ntfy topic when configured, and a chain that fails verification is logged
// as an error event. ntfy is played by a small HTTP double following protocols.md (JSON publish to the
// server root, JSON errors); with AIRLOCK_TEST_NTFY_URL set, the publish also goes to that real server.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { createWitness } from '../../src/audit/witness.ts';
import { createLogger } from '../../src/log/logger.ts';
import { Scrubber } from '../../src/log/scrub.ts';
import { CapturedLog, removeDir, tempDir, waitFor } from '../support/harness.ts';
import { readLines, sampleInput, writeChain, writeLines } from './chain-fixture.ts';

const TOKEN = 'tk_witnesscanary0123456789abcdef';

interface Published {
  auth: string | undefined;
  body: { topic: string; title?: string; message?: string };
}

/** An ntfy double: JSON publish at the root; 403 {code:40301} unless the bearer token matches. */
async function ntfyDouble(t: import('node:test').TestContext, token: string) {
  const published: Published[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    if (req.method !== 'POST' || req.url !== '/') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 40401, http: 404, error: 'page not found' }));
      return;
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 40301, http: 403, error: 'forbidden', link: 'https://ntfy.sh/docs/publish/#authentication' }));
      return;
    }
    const body = JSON.parse(text) as Published['body'];
    published.push({ auth: req.headers.authorization, body });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'a1b2c3d4e5f6', time: Math.floor(Date.now() / 1000), event: 'message', ...body }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, published };
}

async function setup(t: import('node:test').TestContext) {
  const dir = await tempDir('witness');
  const audit = await AuditLog.open(path.join(dir, 'runner.jsonl'), { scrubber: new Scrubber() });
  await audit.append(sampleInput(1));
  const captured = new CapturedLog();
  const scrubber = new Scrubber();
  // The operator runs at warn: witness lines must still be written.
  const log = createLogger({ level: 'warn', destination: captured.stream, pretty: false, scrubber });
  t.after(async () => {
    await audit.close();
    await removeDir(dir);
  });
  return { dir, audit, captured, log, scrubber };
}

test('the head is witnessed at start, after an apply and every interval, as log lines Loki can keep', async (t) => {
  const { audit, captured, log, scrubber } = await setup(t);
  const witness = createWitness({ audit, alsoVerify: [], config: { interval: 100 }, log, scrubber });
  await witness.start();
  t.after(() => witness.stop());
  const started = captured.lines().find((l) => l['event'] === 'audit.witness');
  assert.deepEqual(
    started && { level: started['level'], reason: started['reason'], chain: started['chain'], seq: started['seq'], head: started['head'], verified: started['verified'] },
    { level: 30, reason: 'start', chain: 'runner.jsonl', seq: 1, head: audit.head.hash, verified: true },
  );
  const record = await audit.append(sampleInput(2, { type: 'apply.finished' }));
  witness.afterApply('r2');
  const afterApply = await waitFor('an apply witness line', async () => captured.lines().find((l) => l['event'] === 'audit.witness' && l['reason'] === 'apply'));
  assert.deepEqual([afterApply['seq'], afterApply['head'], afterApply['runId']], [2, record.hash, 'r2']);
  const interval = await waitFor('an interval witness line', async () => captured.lines().find((l) => l['event'] === 'audit.witness' && l['reason'] === 'interval'));
  assert.equal(interval['head'], record.hash);
  assert.ok(captured.raw.includes('"event":"audit.witness"'), 'the exact shape the alert rule filters on');
});

test('a chain that fails verification is logged as an error event each interval', async (t) => {
  const { dir, audit, captured, log, scrubber } = await setup(t);
  const { file: cliChain, lines } = await writeChain(dir, 4, 'runner-cli');
  const witness = createWitness({ audit, alsoVerify: [cliChain], config: { interval: 100 }, log, scrubber });
  await witness.start();
  t.after(() => witness.stop());
  assert.equal(captured.lines().filter((l) => l['event'] === 'audit.verify_failed').length, 0);
  await writeLines(cliChain, lines.filter((_, i) => i !== 1));
  const failed = await waitFor('a verify failure line', async () => captured.lines().find((l) => l['event'] === 'audit.verify_failed'));
  assert.deepEqual([failed['level'], failed['chain'], failed['seq'], failed['reason']], [50, 'runner-cli.jsonl', 2, 'deleted']);
  const witnessed = await waitFor('a witness line saying the chains did not verify', async () => captured.lines().find((l) => l['event'] === 'audit.witness' && l['verified'] === false));
  assert.equal(witnessed['chain'], 'runner.jsonl');
  assert.deepEqual(await readLines(cliChain), lines.filter((_, i) => i !== 1), 'verify never writes');
});

test('with an ntfy topic the head is published too; the token never shows in any output', async (t) => {
  const { audit, captured, log, scrubber } = await setup(t);
  const ntfy = await ntfyDouble(t, TOKEN);
  const witness = createWitness({
    audit,
    alsoVerify: [],
    config: { interval: 60_000, ntfy: { url: ntfy.url, topic: 'airlock-witness', tokenEnv: 'WITNESS_TOKEN' } },
    log,
    scrubber,
    env: { WITNESS_TOKEN: TOKEN },
  });
  await witness.start();
  witness.afterApply('r9');
  await witness.stop();
  assert.equal(ntfy.published.length, 2);
  assert.deepEqual(ntfy.published.map((p) => p.body.topic), ['airlock-witness', 'airlock-witness']);
  assert.match(ntfy.published[0]!.body.message ?? '', new RegExp(`runner\\.jsonl seq 1 sha256 ${audit.head.hash} \\(start\\)`));
  assert.match(ntfy.published[1]!.body.message ?? '', /\(apply\)/);
  assert.ok(!captured.raw.includes(TOKEN));
});

test('a refused publish is a warning with ntfy\'s error code; the head is still logged', async (t) => {
  const { audit, captured, log, scrubber } = await setup(t);
  const ntfy = await ntfyDouble(t, 'tk_someotheraccesstoken000000000');
  const witness = createWitness({ audit, alsoVerify: [], config: { interval: 60_000, ntfy: { url: ntfy.url, topic: 'airlock-witness', tokenEnv: 'WITNESS_TOKEN' } }, log, scrubber, env: { WITNESS_TOKEN: TOKEN } });
  await witness.start();
  await witness.stop();
  const warn = captured.lines().find((l) => l['event'] === 'audit.witness_publish_failed');
  assert.match(JSON.stringify(warn?.['err']), /HTTP 403 \(40301\): forbidden/);
  assert.ok(captured.lines().some((l) => l['event'] === 'audit.witness'));
  assert.ok(!captured.raw.includes(TOKEN), 'the token is scrubbed from the log');
});

test('a token env var that is not set is a clear start-up error', async (t) => {
  const { audit, log, scrubber } = await setup(t);
  assert.throws(
    () => createWitness({ audit, alsoVerify: [], config: { interval: 60_000, ntfy: { url: 'http://127.0.0.1:9', topic: 'x', tokenEnv: 'NOPE_NOT_SET' } }, log, scrubber, env: {} }),
    /audit\.witness\.ntfy\.tokenEnv` names NOPE_NOT_SET, which is not set/,
  );
});

const REAL_NTFY = process.env['AIRLOCK_TEST_NTFY_URL'];
test('publishing to a real ntfy server', { skip: !REAL_NTFY && 'set AIRLOCK_TEST_NTFY_URL (and AIRLOCK_TEST_NTFY_TOKEN if the topic needs one)' }, async (t) => {
  const { audit, log, scrubber } = await setup(t);
  const topic = `airlock-witness-${randomUUID().slice(0, 8)}`;
  const token = process.env['AIRLOCK_TEST_NTFY_TOKEN'];
  const witness = createWitness({
    audit,
    alsoVerify: [],
    config: { interval: 60_000, ntfy: { url: REAL_NTFY!, topic, ...(token ? { tokenEnv: 'AIRLOCK_TEST_NTFY_TOKEN' } : {}) } },
    log,
    scrubber,
  });
  await witness.start();
  await witness.stop();
  const res = await fetch(`${REAL_NTFY}/${topic}/json?poll=1`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const messages = (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { message?: string });
  assert.ok(messages.some((m) => m.message?.includes(audit.head.hash)));
});
