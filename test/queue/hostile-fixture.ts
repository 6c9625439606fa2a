// Shared plumbing of the hostile-Redis tests: a runner process whose log is kept, and a file snapshot.
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { makeRemote } from '../git-fixtures.ts';
import { deletePrefix, removeDir, tempDir, testPrefix, writeConfig, type TestConfigInput } from '../support/harness.ts';
import { RedisAttacker } from '../support/redis-attacker.ts';
import { spawnRunner, stopRunner } from '../support/spawn-runner.ts';

/** Every file under `dir` with its contents, for "nothing here changed" assertions. */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const file = path.join(at, entry.name);
      if (entry.isDirectory()) await walk(file);
      else if (entry.isFile()) out.set(path.relative(dir, file), await readFile(file, 'latin1'));
    }
  };
  await walk(dir);
  return out;
}

/** A runner process whose stdout (its JSON log) is kept. */
export async function runnerProcess(configFile: string): Promise<{ child: ChildProcess; log: () => string }> {
  const child = await spawnRunner(configFile);
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  return { child, log: () => text };
}


export type RunnerProcess = Awaited<ReturnType<typeof runnerProcess>>;

/** A runner config on a fresh remote, prefix and data dir, its attacker, and a runner process to start; all torn down after. */
export async function hostileSetup(t: TestContext, label: string, input: Partial<TestConfigInput> = {}) {
  const root = await tempDir(label);
  const remote = await makeRemote();
  const prefix = testPrefix();
  const dataDir = path.join(root, 'data');
  const loaded = await writeConfig({ runnerId: 'victim', remoteUrl: remote.url, dataDir, prefix, ...input });
  const attacker = new RedisAttacker(prefix);
  let current: RunnerProcess | undefined;
  t.after(async () => {
    await stopRunner(current?.child);
    await attacker.close();
    await deletePrefix(prefix);
    await remote.cleanup();
    await removeDir(root);
  });
  return {
    root,
    remote,
    prefix,
    dataDir,
    loaded,
    attacker,
    async start(): Promise<RunnerProcess> {
      current = await runnerProcess(loaded.file);
      return current;
    },
    async stop(): Promise<void> {
      await stopRunner(current?.child);
    },
  };
}
