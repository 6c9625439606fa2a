// What the campaign needs from the test harness, without loading it: test/support/harness.ts imports the
// runner itself (all of src/ through tsx, seconds of CPU), and the campaign only starts runners as
// processes. These are the same helpers, and the same runner config as the harness writes.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { deleteKeysUnder } from '../../src/runner/delete-prefix.ts';
import { engineForTests, sandboxConfigForTests } from '../support/engine-under-test.ts';

export const REDIS_URL = process.env['AIRLOCK_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export const TF_TWO = `resource "terraform_data" "a" {\n  input = "one"\n}\n\nresource "terraform_data" "b" {\n  input = "two"\n}\n`;

export function testPrefix(): string {
  return `airlock-test-${randomUUID()}`;
}

/** Delete every key under `prefix` (never FLUSHDB: Redis is shared); twice, for BullMQ's late meta write. */
export async function deletePrefix(prefix: string, url = REDIS_URL): Promise<void> {
  await deleteKeysUnder(url, prefix);
  await new Promise((r) => setTimeout(r, 300));
  await deleteKeysUnder(url, prefix);
}

export async function tempDir(label: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `airlock-${label}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A runner config as the harness writes it (test/support/harness.ts configYaml), for the engine under test. */
export function chaosConfig(input: { runnerId: string; remoteUrl: string; dataDir: string; redisUrl: string; prefix: string; engineEnv: Record<string, string>; workspaces?: unknown[] }): Record<string, unknown> {
  const engine = engineForTests();
  return {
    runner: { id: input.runnerId, dataDir: input.dataDir },
    redis: { url: input.redisUrl, prefix: input.prefix },
    engine: {
      kind: engine.kind,
      binary: engine.binary,
      path: engine.path,
      env: { ...engine.env, ...input.engineEnv },
      // A hung engine is killed by the runner's own timeout: short enough for an iteration to see it.
      timeouts: { init: '2m', plan: '20s', apply: '20s' },
      lockTimeout: '1s',
      sandbox: sandboxConfigForTests(),
      // The double needs no network: no slirp4netns per engine process (the sandbox is otherwise the same).
      network: 'none',
    },
    repos: [{ name: 'infra', url: input.remoteUrl, pollInterval: '1s', refs: ['refs/pull/*/head'], workspaces: input.workspaces ?? [{ name: 'default', dir: '.' }] }],
    approval: { channel: 'terminal', ttl: '15m' },
    applies: { enabled: true },
    plans: { attempts: 2, backoff: '1s' },
    queue: { lockDuration: '5s', stalledInterval: '2s' },
    log: { level: process.env['CHAOS_LOG_LEVEL'] ?? 'info' },
  };
}

export const toYaml = (doc: unknown) => stringify(doc);

/** The host pid of an engine invocation the double recorded (its pid is 1 inside the sandbox's PID namespace). */
export async function hostPidOf(invocation: { pid: number; cwd: string; argv: string[] }): Promise<number> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const nspid = /^NSpid:\s+(.*)$/m.exec(await readFile(`/proc/${entry}/status`, 'utf8'))?.[1]?.trim().split(/\s+/).map(Number) ?? [];
      if (nspid.at(-1) !== invocation.pid || (await readlink(`/proc/${entry}/cwd`)) !== invocation.cwd) continue;
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
      if (invocation.argv.every((a) => argv.includes(a))) return Number(entry);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  throw new Error(`no live process for engine invocation ${invocation.argv.join(' ')}`);
}
