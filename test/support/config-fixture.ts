// A runner config file in a fresh directory, with its remote and Redis prefix, all removed after the test.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { makeRemote } from '../git-fixtures.ts';
import { configYaml, deletePrefix, removeDir, tempDir, testPrefix, type TestConfigInput } from './harness.ts';

export interface ConfigFixture {
  root: string;
  remote: Awaited<ReturnType<typeof makeRemote>>;
  file: string;
  dataDir: string;
  prefix: string;
}

/** Write `<root>/runner.yaml` (configYaml with `extra` keys and `input` fields); `dataDir` defaults to `<root>/data`. */
export async function configFixture(t: TestContext, extra: Record<string, unknown> = {}, opts: { dataDir?: string; input?: Partial<TestConfigInput> } = {}): Promise<ConfigFixture> {
  const root = await tempDir('config');
  const remote = await makeRemote();
  const prefix = testPrefix();
  t.after(async () => {
    await deletePrefix(prefix);
    await remote.cleanup();
    await removeDir(root);
  });
  const dataDir = opts.dataDir ?? path.join(root, 'data');
  const file = path.join(root, 'runner.yaml');
  await writeFile(file, configYaml({ remoteUrl: remote.url, dataDir, prefix, extra, ...opts.input }));
  return { root, remote, file, dataDir, prefix };
}
