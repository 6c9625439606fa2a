// The sandbox's network: outbound through slirp4netns reaches hosts on the network (here a server the
// test places in a network namespace of its own, on a non-loopback address), but never the runner host's
// loopback services (Redis here). `engine.network: none` reaches nothing at all.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../../src/engine/engine.ts';
import { makeJob, specForTests } from '../engine/engine-under-test.ts';
import { REDIS_URL } from '../support/harness.ts';
import { hostInItsOwnNamespace, netnsUnavailable, sandboxSettingsForTests } from './sandbox-fixture.ts';

const PROBE = fileURLToPath(new URL('./net-probe.mjs', import.meta.url));
const redisPort = Number(new URL(REDIS_URL).port || 6379);

/** What a sandboxed engine process could reach, per target. */
async function probeFromSandbox(t: import('node:test').TestContext, network: 'slirp4netns' | 'none' | null, targets: string[]): Promise<Record<string, string>> {
  const job = await makeJob(t);
  const sandbox = network ? sandboxSettingsForTests({ network }, [path.dirname(PROBE)]) : null;
  const engine = createEngine(specForTests({ binary: PROBE, sandbox, env: { NET_PROBE_TARGETS: targets.join(',') } }));
  const lines: string[] = [];
  await engine.init({ ...job.call, onLine: (l) => lines.push(l) });
  return Object.fromEntries(lines.filter((l) => l.startsWith('NET-PROBE ')).map((l) => l.split(' ').slice(1) as [string, string]));
}

test('slirp4netns: a host on the network is reachable, the runner\'s Redis on loopback is not', { skip: await netnsUnavailable() }, async (t) => {
  const host = await hostInItsOwnNamespace(t);
  const outside = `${host.address}:${host.port}`;
  const reached = await probeFromSandbox(t, 'slirp4netns', [outside, `127.0.0.1:${redisPort}`, `10.0.2.2:${redisPort}`]);
  assert.equal(reached[outside], 'ok', 'the namespaced host is reachable through slirp4netns');
  assert.notEqual(reached[`127.0.0.1:${redisPort}`], 'ok', 'the sandbox\'s own loopback has no Redis');
  assert.notEqual(reached[`10.0.2.2:${redisPort}`], 'ok', 'the host loopback through the slirp gateway is disabled');
});

test('engine.network none: not even a host on the network is reachable', { skip: await netnsUnavailable() }, async (t) => {
  const host = await hostInItsOwnNamespace(t);
  const outside = `${host.address}:${host.port}`;
  const reached = await probeFromSandbox(t, 'none', [outside, `127.0.0.1:${redisPort}`]);
  assert.notEqual(reached[outside], 'ok');
  assert.notEqual(reached[`127.0.0.1:${redisPort}`], 'ok');
});

test('negative control: without the sandbox the same probe reaches Redis and the namespaced host', { skip: await netnsUnavailable() }, async (t) => {
  const host = await hostInItsOwnNamespace(t);
  const outside = `${host.address}:${host.port}`;
  const reached = await probeFromSandbox(t, null, [outside, `127.0.0.1:${redisPort}`]);
  assert.equal(reached[outside], 'ok');
  assert.equal(reached[`127.0.0.1:${redisPort}`], 'ok');
});
