// Measures, against the ntfy double, the time from a phone's reply being published to the apply process
// being spawned: `node --import tsx test/approve/measure-tap-latency.ts [taps]` (default 50). It prints
// figures and asserts nothing about them. Needs Redis on 127.0.0.1:6379, like the tests.
import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { NtfyEvent } from '../../src/approve/ntfy-client.ts';
import { deriveRunId } from '../../src/run/run.ts';
import { createEngine, type Engine } from '../../src/engine/engine.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startRunner } from '../../src/runner/runner.ts';
import { engineSpecFor } from '../../src/engine/spec.ts';
import { startNtfyDouble } from '../doubles/ntfy-double.ts';
import { makeRemote, pushCommit } from '../git-fixtures.ts';
import { deletePrefix, removeDir, tempDir, testPrefix, waitFor, writeConfig } from '../support/harness.ts';

const taps = Number(process.argv[2] ?? 50);
const root = await tempDir('tap-latency');
const prefix = testPrefix();
const token = () => `tk_${randomBytes(15).toString('hex').slice(0, 29)}`;
const tokens = { publish: token(), subscribe: token(), alice: token() };
const topics = { notify: 'airlock-alice-notify', reply: 'airlock-alice-reply' };
const double = await startNtfyDouble({
  tokens: { [tokens.publish]: 'runner-pub', [tokens.subscribe]: 'runner-sub', [tokens.alice]: 'alice' },
  acl: [
    { user: 'runner-pub', topic: topics.notify, access: 'write-only' },
    { user: 'runner-sub', topic: topics.reply, access: 'read-only' },
    { user: 'alice', topic: topics.reply, access: 'write-only' },
  ],
  // Deployed as deploy/ntfy/server.yml says: deny-all, the runner host exempt from the request limit.
  defaultAccess: 'deny-all',
  limits: { exemptHosts: ['127.0.0.1'] },
});
for (const [name, value] of Object.entries(tokens)) {
  await writeFile(path.join(root, `${name}.token`), value, { mode: 0o600 });
  await chmod(path.join(root, `${name}.token`), 0o600);
}
const remote = await makeRemote();
const loaded = await writeConfig({
  remoteUrl: remote.url,
  dataDir: path.join(root, 'data'),
  prefix,
  extra: {
    approval: {
      channel: 'ntfy',
      maxPending: 100,
      ntfy: {
        url: double.url,
        publishTokenFile: path.join(root, 'publish.token'),
        subscribeTokenFile: path.join(root, 'subscribe.token'),
        requestBudget: false,
        approvers: [{ name: 'alice', notifyTopic: topics.notify, replyTopic: topics.reply, replyTokenFile: path.join(root, 'alice.token') }],
      },
    },
  },
});

// The moment the engine adapter is asked to run `apply`: it spawns the process at once.
const spawnedAt = new Map<string, number>();
const inner = createEngine(await engineSpecFor(loaded.config));
const engine: Engine = { ...inner, apply: (call, planFile) => (spawnedAt.set(planFile, performance.now()), inner.apply(call, planFile)) };
const runner = await startRunner(loaded, { log: createLogger({ level: 'warn', destination: new PassThrough().resume(), pretty: false }), watch: false, engine });
await runner.replies!.waitConnected();

const samples: number[] = [];
try {
  for (let i = 1; i <= taps; i++) {
    const sha = await pushCommit(remote, { 'main.tf': `resource "terraform_data" "a" {\n  input = "v${i}"\n}\n` }, { refs: [`refs/pull/${i}/head`] });
    await runner.watcher.pollAll();
    const runId = deriveRunId('infra', 'default', sha);
    const request = await waitFor(`request ${i}`, async () => double.messages(topics.notify).find((m) => m.message.includes(`run ${runId}`)) as NtfyEvent | undefined);
    const approve = request.actions!.find((a) => a.label === 'Approve')!;
    const planFile = runner.cp.paths.job(runId).planFile;
    const published = performance.now();
    const answer = await fetch(String(approve['url']), { method: String(approve['method']), headers: approve['headers'] as Record<string, string>, body: String(approve['body']) });
    if (answer.status !== 200) throw new Error(`tap ${i}: ntfy answered ${answer.status}`);
    const spawned = await waitFor(`apply ${i}`, async () => spawnedAt.get(planFile), 30_000);
    samples.push(spawned - published);
    await waitFor(`run ${i} applied`, async () => ['applied', 'failed'].includes((await runner.cp.runs.get(runId)).state));
  }
} finally {
  await runner.stop();
  await double.close();
  await remote.cleanup();
  await deletePrefix(prefix);
  await removeDir(root);
}

const sorted = [...samples].sort((a, b) => a - b);
const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
console.log(`reply published → apply process spawned, ${samples.length} taps against the ntfy double`);
console.log(`  median ${fmt(at(0.5))}  p95 ${fmt(at(0.95))}  min ${fmt(sorted[0]!)}  max ${fmt(sorted.at(-1)!)}  mean ${fmt(samples.reduce((a, b) => a + b, 0) / samples.length)}`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
if (samples.length >= 20) console.log(`  first 10 taps median ${fmt(median(samples.slice(0, 10)))}, last 10 median ${fmt(median(samples.slice(-10)))}`);
