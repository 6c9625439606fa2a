// Shared plumbing of the hostile-Redis tests: a runner process whose log is kept, and a file snapshot.
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { spawnRunner } from '../support/spawn-runner.ts';

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

