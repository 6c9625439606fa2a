// Traces off costs nothing to load: a runner process without `traces.otlp` loads no OpenTelemetry SDK
// package (prom-client alone brings the small API package), and the same runner with it set does.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeRemote } from '../git-fixtures.ts';
import { deletePrefix, removeDir, tempDir, testPrefix, writeConfig } from '../support/harness.ts';
import { startOtlpReceiver } from '../doubles/otlp-receiver.ts';

const PROBE = fileURLToPath(new URL('./load-probe.ts', import.meta.url));

async function loadedBy(extra: Record<string, unknown>, t: import('node:test').TestContext): Promise<string[]> {
  const root = await tempDir('trace-load');
  const remote = await makeRemote();
  const prefix = testPrefix();
  t.after(async () => {
    await deletePrefix(prefix);
    await remote.cleanup();
    await removeDir(root);
  });
  const loaded = await writeConfig({ remoteUrl: remote.url, dataDir: path.join(root, 'data'), prefix, extra });
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', PROBE, loaded.file], { timeout: 120_000 });
  const line = stdout.split('\n').find((l) => l.startsWith('LOADED '));
  assert.ok(line, stdout);
  return JSON.parse(line.slice('LOADED '.length)) as string[];
}

test('a runner without traces.otlp loads no OpenTelemetry SDK; with it, it does (the control)', async (t) => {
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  const off = await loadedBy({}, t);
  assert.deepEqual(off.filter((p) => p !== '@opentelemetry/api'), [], `loaded with traces off: ${off.join(', ')}`);
  const on = await loadedBy({ traces: { otlp: { endpoint: receiver.base } } }, t);
  for (const p of ['@opentelemetry/sdk-trace', '@opentelemetry/exporter-trace-otlp-http', '@opentelemetry/resources']) assert.ok(on.includes(p), `${p} loaded with traces on: ${on.join(', ')}`);
});
