// Shared test plumbing: a Redis prefix per test (never a flush), configs built from YAML like an
// operator's, a runner whose log lines are captured, and polling helpers.
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { deleteKeysUnder } from '../../src/runner/delete-prefix.ts';
import { stringify } from 'yaml';
import type { Run } from '../../src/run/run.ts';
import { loadConfig, type LoadedConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startRunner, type Runner, type RunnerOptions } from '../../src/runner/runner.ts';
import { engineForTests, sandboxConfigForTests } from './engine-under-test.ts';

export const REDIS_URL = process.env['AIRLOCK_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A fresh key prefix: every test owns its keys and deletes them afterwards. */
export function testPrefix(): string {
  return `airlock-test-${randomUUID()}`;
}

/** Delete every key under `prefix` (never FLUSHDB: Redis is shared). */
export async function deletePrefix(prefix: string, url = REDIS_URL): Promise<void> {
  await deleteKeysUnder(url, prefix);
  // BullMQ writes a queue's `meta` key asynchronously after construction; a write still in flight from a
  // process that just exited can land after the first sweep, so sweep once more.
  await new Promise((r) => setTimeout(r, 300));
  await deleteKeysUnder(url, prefix);
}

export async function tempDir(label: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `airlock-${label}-`));
}

export interface TestConfigInput {
  remoteUrl: string;
  dataDir: string;
  prefix: string;
  runnerId?: string;
  refs?: string[];
  /** Extra keys (e.g. `credentials`) are written into the workspace as given. */
  workspaces?: Array<{ name: string; dir: string } & Record<string, unknown>>;
  engineEnv?: Record<string, string>;
  /** Per-step engine limits, e.g. `{ apply: '1s' }` to make the engine time out. */
  engineTimeouts?: Partial<Record<'init' | 'plan' | 'show' | 'apply', string>>;
  appliesEnabled?: boolean;
  /** `engine.binary` instead of the engine under test (e.g. the hostile engine). */
  engineBinary?: string;
  /** More keys of the `engine` section (e.g. `providers`). */
  engineExtra?: Record<string, unknown>;
  /** `engine.sandbox`; default: the real sandbox (sandboxConfigForTests). */
  sandbox?: unknown;
  extra?: Record<string, unknown>;
  /** More keys of the repo entry (e.g. `forge`). */
  repoExtra?: Record<string, unknown>;
}

/** A runner config as an operator would write it, written to `<dataDir>/../runner.yaml` and loaded by the real loader. */
export async function writeConfig(input: TestConfigInput): Promise<LoadedConfig> {
  const file = path.join(path.dirname(input.dataDir), `${input.runnerId ?? 'test'}-runner.yaml`);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, configYaml(input));
  return loadConfig(file);
}

/** The YAML text of a test runner config. */
export function configYaml(input: TestConfigInput): string {
  const engine = engineForTests();
  const doc = {
    runner: { id: input.runnerId ?? 'test', dataDir: input.dataDir },
    redis: { url: REDIS_URL, prefix: input.prefix },
    engine: {
      kind: engine.kind,
      binary: input.engineBinary ?? engine.binary,
      path: engine.path,
      env: { ...engine.env, ...input.engineEnv },
      timeouts: { init: '2m', plan: '2m', apply: '2m', ...input.engineTimeouts },
      lockTimeout: '1s',
      sandbox: input.sandbox ?? sandboxConfigForTests(),
      ...input.engineExtra,
    },
    repos: [
      {
        name: 'infra',
        url: input.remoteUrl,
        pollInterval: '1s',
        refs: input.refs ?? ['refs/pull/*/head'],
        workspaces: input.workspaces ?? [{ name: 'default', dir: '.' }],
        ...input.repoExtra,
      },
    ],
    approval: { channel: 'terminal', ttl: '15m' },
    applies: { enabled: input.appliesEnabled ?? true },
    plans: { attempts: 2, backoff: '1s' },
    queue: { lockDuration: '5s', stalledInterval: '2s' },
    ...input.extra,
  };
  return stringify(doc);
}

/** Log lines a runner wrote, as parsed JSON and as raw text (for canary searches). */
export class CapturedLog {
  readonly stream = new PassThrough();
  raw = '';
  constructor() {
    this.stream.on('data', (chunk: Buffer) => {
      this.raw += chunk.toString('utf8');
    });
  }
  lines(): Array<Record<string, unknown>> {
    return this.raw
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

export async function startTestRunner(loaded: LoadedConfig, captured = new CapturedLog(), options: Partial<RunnerOptions> = {}): Promise<{ runner: Runner; log: CapturedLog }> {
  const log = createLogger({ level: 'debug', destination: captured.stream, pretty: false });
  const runner = await startRunner(loaded, { log, watch: false, ...options });
  return { runner, log: captured };
}

/** Poll until `check` returns a value (not undefined/false); fail with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false | null>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined && v !== false && v !== null) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

/** Wait for a run to reach one of `states`. */
export async function waitForState(runner: Runner, runId: string, states: Run['state'][], timeoutMs = 30_000): Promise<Run> {
  return waitFor(`run ${runId} to reach ${states.join('|')}`, async () => {
    const run = await runner.cp.runs.find(runId);
    return run && states.includes(run.state) ? run : undefined;
  }, timeoutMs);
}

/** Engine invocations recorded by the double (AIRLOCK_DOUBLE_LOG), or by nothing for a real engine. */
export async function readInvocations(logFile: string): Promise<Array<{ argv: string[]; cwd: string; pid: number }>> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { argv: string[]; cwd: string; pid: number });
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/**
 * The host pid of a recorded engine invocation. Inside the sandbox the double records its pid in its own
 * PID namespace (1); from outside it is the process whose NSpid ends with that pid, running in `cwd`.
 */
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
  throw new Error(`no live process for engine invocation ${invocation.argv.join(' ')} (pid ${invocation.pid} in its namespace)`);
}
