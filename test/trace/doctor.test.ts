// `airlock doctor`'s traces check against an in-process OTLP receiver: reachable, refused, wrong path,
// nothing listening, and a header file that is unsafe to read.
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { readTokenFile, resolveTokenFile } from '../../src/approve/token-files.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { Scrubber } from '../../src/log/scrub.ts';
import { checkTraces } from '../../src/trace/doctor.ts';
import { startOtlpReceiver } from '../doubles/otlp-receiver.ts';
import { removeDir, tempDir } from '../support/harness.ts';

const MINIMAL = 'repos:\n  - name: infra\n    url: https://git.example/infra.git\n';
const SECRET = 'otlp-token-canary-51d0e2';

async function setup(t: import('node:test').TestContext) {
  const root = await tempDir('trace-doctor');
  t.after(() => removeDir(root));
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  const tokenFile = path.join(root, 'otlp.token');
  await writeFile(tokenFile, `${SECRET}\n`, { mode: 0o600 });
  const scrubber = new Scrubber();
  const configFile = path.join(root, 'runner.yaml');
  const deps = { readSecret: (file: string, what: string) => readTokenFile(resolveTokenFile(file, configFile), scrubber, what), scrub: (s: string) => scrubber.scrubString(s) };
  const traces = (endpoint: string) => parseConfigText(`${MINIMAL}traces:\n  otlp:\n    endpoint: ${endpoint}\n    headers:\n      authorization: { file: otlp.token, prefix: "Bearer " }\n`, configFile).traces;
  return { root, receiver, tokenFile, deps, traces };
}

test('no traces configured: no check', async () => {
  assert.deepEqual(await checkTraces(parseConfigText(MINIMAL, 'x.yaml').traces, { readSecret: async () => '', scrub: (s) => s }), []);
});

test('a reachable endpoint passes with the header from its file; a refusing or wrong one fails with the fix', async (t) => {
  const { receiver, deps, traces } = await setup(t);
  receiver.requireHeader('authorization', `Bearer ${SECRET}`);
  const [ok] = await checkTraces(traces(receiver.base), deps);
  assert.equal(ok!.ok, true, ok!.detail);
  assert.match(ok!.detail, /takes OTLP\/HTTP exports \(HTTP 200\)/);
  assert.equal(receiver.requests.at(-1)!.path, '/v1/traces', 'a bare host:port gets the standard path');

  receiver.requireHeader('authorization', 'Bearer another');
  const [refused] = await checkTraces(traces(receiver.base), deps);
  assert.equal(refused!.ok, false);
  assert.match(refused!.detail, /refused the export \(HTTP 401\)/);
  assert.match(refused!.fix!, /traces\.otlp\.headers/);

  const [wrongPath] = await checkTraces(traces(`${receiver.base}/v1/metrics`), deps);
  assert.equal(wrongPath!.ok, false);
  assert.match(wrongPath!.fix!, /traces URL/);
  for (const c of [ok, refused, wrongPath]) assert.ok(!JSON.stringify(c).includes(SECRET));
});

test('nothing listening: the check fails and says the runs are unaffected', async (t) => {
  const { deps, traces } = await setup(t);
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as import('node:net').AddressInfo).port;
  await new Promise((r) => server.close(r)); // a port that was just free
  const [down] = await checkTraces(traces(`http://127.0.0.1:${port}`), deps);
  assert.equal(down!.ok, false);
  assert.match(down!.detail, /cannot be reached \(ECONNREFUSED\)/);
  assert.match(down!.fix!, /runs are unaffected/);
});

test('a header file others can read fails the check before anything is sent', async (t) => {
  const { receiver, tokenFile, deps, traces } = await setup(t);
  await chmod(tokenFile, 0o644);
  const [bad] = await checkTraces(traces(receiver.base), deps);
  assert.equal(bad!.ok, false);
  assert.match(bad!.detail, /mode 644/);
  assert.match(bad!.fix!, /chmod 600/);
  assert.equal(receiver.requests.length, 0);
});
