// One runner against one temporary remote, with everything torn down after the test.
import path from 'node:path';
import type { TestContext } from 'node:test';
import { deriveRunId } from '../../src/run/run.ts';
import type { LoadedConfig } from '../../src/config/load.ts';
import { main } from '../../src/cli/main.ts';
import type { Output } from '../../src/cli/output.ts';
import type { Runner, RunnerOptions } from '../../src/runner/runner.ts';
import { makeRemote } from '../git-fixtures.ts';
import { engineForTests } from '../support/engine-under-test.ts';
import { CapturedLog, deletePrefix, readInvocations, removeDir, startTestRunner, tempDir, testPrefix, writeConfig, type TestConfigInput } from '../support/harness.ts';

export const TF_TWO = `resource "terraform_data" "a" {\n  input = "one"\n}\n\nresource "terraform_data" "b" {\n  input = "two"\n}\n`;
export const TF_ONE_CHANGED = `resource "terraform_data" "a" {\n  input = "one-changed"\n}\n`;

export interface Loop {
  root: string;
  remote: Awaited<ReturnType<typeof makeRemote>>;
  loaded: LoadedConfig;
  runner: Runner;
  log: CapturedLog;
  prefix: string;
  invocationLog: string;
  envDumpDir: string;
  runId(sha: string, workspace?: string): string;
  /** Run an `airlock` CLI command against this runner's config; returns exit code and printed text. */
  cli(...args: string[]): Promise<{ code: number; out: string; err: string }>;
  invocations(command?: string): Promise<Array<{ argv: string[]; cwd: string; pid: number }>>;
  restart(): Promise<void>;
}

export async function setupLoop(t: TestContext, input: Partial<TestConfigInput> = {}, runnerOptions: Partial<RunnerOptions> = {}): Promise<Loop> {
  const root = await tempDir('loop');
  const remote = await makeRemote();
  const prefix = input.prefix ?? testPrefix();
  const invocationLog = path.join(root, 'engine-invocations.jsonl');
  const envDumpDir = path.join(root, 'env-dumps');
  const knobs: Record<string, string> = engineForTests().isDouble ? { AIRLOCK_DOUBLE_LOG: invocationLog, AIRLOCK_DOUBLE_ENV_DUMP: envDumpDir } : {};
  const loaded = await writeConfig({
    remoteUrl: remote.url,
    dataDir: path.join(root, 'data'),
    prefix,
    ...input,
    engineEnv: { ...knobs, ...input.engineEnv },
  });
  let { runner, log } = await startTestRunner(loaded, undefined, runnerOptions);
  const loop: Loop = {
    root,
    remote,
    loaded,
    get runner() {
      return runner;
    },
    log,
    prefix,
    invocationLog,
    envDumpDir,
    runId: (sha, workspace = 'default') => deriveRunId('infra', workspace, sha),
    async cli(...args) {
      let out = '';
      let err = '';
      const output: Output = { out: (s) => (out += `${s}\n`), err: (s) => (err += `${s}\n`), isTTY: false };
      const code = await main(['node', 'airlock', ...args, '--config', loaded.file], output);
      return { code, out, err };
    },
    async invocations(command) {
      const all = await readInvocations(invocationLog);
      return command ? all.filter((i) => i.argv.includes(command)) : all;
    },
    async restart() {
      await runner.stop();
      ({ runner } = await startTestRunner(loaded, log, runnerOptions));
    },
  } as Loop;
  t.after(async () => {
    await runner.stop().catch(() => undefined);
    await deletePrefix(prefix);
    await remote.cleanup();
    await removeDir(root);
  });
  return loop;
}
