// Which engine the engine tests drive: the terraform double by default, a real terraform/tofu when
// AIRLOCK_TEST_ENGINE names one. Knobs only the double understands go through spec.env, which also
// exercises the allowlist; tests that need a knob skip against a real engine.

import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import type { EngineCall, EngineSpec } from '../../src/engine/engine.ts';

export const DOUBLE_PATH = fileURLToPath(new URL('../doubles/terraform-double.mjs', import.meta.url));

/** The engine binary under test: $AIRLOCK_TEST_ENGINE, or the double. */
export function engineBinaryForTests(): string {
  return process.env['AIRLOCK_TEST_ENGINE'] || DOUBLE_PATH;
}

export const isDouble = engineBinaryForTests() === DOUBLE_PATH;
export const needsDouble = isDouble ? false : 'needs a knob only the terraform double has';

/** PATH for the child: the double is a node script, so node's directory must be on it. */
export const CHILD_PATH = `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`;

export function specForTests(overrides: Partial<EngineSpec> = {}): EngineSpec {
  const binary = engineBinaryForTests();
  return {
    kind: path.basename(binary).includes('tofu') ? 'tofu' : 'terraform',
    binary,
    path: CHILD_PATH,
    env: {},
    timeouts: { init: 30_000, plan: 30_000, show: 30_000, apply: 30_000, version: 30_000 },
    lockTimeoutMs: 0,
    killGraceMs: 1000,
    sandbox: null,
    ...overrides,
  };
}

export interface Job {
  root: string;
  cwd: string;
  call: EngineCall;
  /** A path inside the job dir. */
  at(...parts: string[]): string;
  writeConfig(hcl: string, file?: string): Promise<void>;
}

/** A private job dir (0700) with a workspace and a HOME, removed after the test. */
export async function makeJob(t: TestContext, config?: string): Promise<Job> {
  const root = await mkdtemp(path.join(tmpdir(), 'airlock-engine-test-'));
  await chmod(root, 0o700);
  t.after(() => rm(root, { recursive: true, force: true }));
  const cwd = path.join(root, 'ws');
  await mkdir(cwd);
  const job: Job = {
    root,
    cwd,
    call: { cwd, homeDir: path.join(root, 'home') },
    at: (...parts) => path.join(root, ...parts),
    writeConfig: (hcl, file = 'main.tf') => writeFile(path.join(cwd, file), hcl),
  };
  if (config !== undefined) await job.writeConfig(config);
  return job;
}

export async function readJson(file: string): Promise<any> {
  return JSON.parse(await readFile(file, 'utf8'));
}

/** Wait until `check` returns a truthy value; fails the test with `what` if it never does. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, limitMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** True while `pid` is a live (non-zombie) process. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Hold the workspace's state lock the way an operator's stray `terraform apply` would: an
 * interactive apply (not via the adapter) that waits at its approval prompt while holding the lock.
 * Works the same against the double and real terraform; the config must have pending changes.
 */
export async function holdStateLock(job: Job, stateFile = 'terraform.tfstate'): Promise<{ lockId: string; release(): Promise<void> }> {
  const home = job.at('holder-home');
  await mkdir(home, { recursive: true });
  await writeFile(path.join(home, 'cli.tfrc'), '');
  const child = spawn(engineBinaryForTests(), ['apply', '-no-color'], {
    cwd: job.cwd,
    env: { PATH: CHILD_PATH, HOME: home, TF_CLI_CONFIG_FILE: path.join(home, 'cli.tfrc'), CHECKPOINT_DISABLE: '1' },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const dir = path.dirname(path.join(job.cwd, stateFile));
  const infoFile = path.join(dir, `.${path.basename(stateFile)}.lock.info`);
  const info = await waitFor('the lock holder to take the state lock', async () => {
    try {
      return JSON.parse(await readFile(infoFile, 'utf8')) as { ID: string };
    } catch {
      return undefined;
    }
  });
  return {
    lockId: info.ID,
    async release() {
      child.stdin?.end('no\n');
      await exited;
    },
  };
}
