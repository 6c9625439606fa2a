// The apply's own output, kept after its job directory is gone: `airlock show` reads it from here. Only a
// scrubbed tail is kept (scrubbed before it is cut), in a 0600 file under the data directory's `outputs/`.
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseRunId } from '../run/run-schema.ts';
import { scrubber } from '../log/scrub.ts';
import { resolveInside, type RunnerPaths } from '../run/paths.ts';

/** At most this many characters of the apply's output are kept (its end, where the outcome is). */
export const KEPT_OUTPUT_CHARS = 64 * 1024;

/** The kept output file of a run: `<dataDir>/outputs/<runId>.apply.log`, checked on disk. */
async function keptFile(paths: Pick<RunnerPaths, 'dataDir'>, runId: string): Promise<string> {
  return resolveInside(paths.dataDir, 'outputs', `${parseRunId(runId, 'kept apply output')}.apply.log`);
}

/** Keep the scrubbed tail of a run's apply log, if it has one; called before its job directory is removed. */
export async function keepApplyOutput(paths: RunnerPaths, runId: string): Promise<boolean> {
  const text = await readFile(paths.job(runId).applyLog, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (text === null) return false;
  await mkdir(path.join(paths.dataDir, 'outputs'), { recursive: true, mode: 0o700 });
  const file = await keptFile(paths, runId);
  // A fresh name renamed into place: a link planted at `file` is replaced, never followed.
  const temp = path.join(path.dirname(file), `.kept-${randomBytes(8).toString('hex')}`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(scrubber.tail(text, KEPT_OUTPUT_CHARS));
  } finally {
    await handle.close();
  }
  await rename(temp, file).catch(async (err: unknown) => {
    await rm(temp, { force: true });
    throw err;
  });
  return true;
}

/** The apply output of a run: the kept copy, else the live log in its job directory (scrubbed), else null. */
export async function readApplyOutput(paths: Pick<RunnerPaths, 'job'>, runId: string): Promise<string | null> {
  const dataDir = path.dirname(path.dirname(paths.job(runId).dir));
  const kept = await readFile(await keptFile({ dataDir }, runId), 'utf8').catch(() => null);
  if (kept !== null) return scrubber.scrubString(kept);
  const live = await readFile(paths.job(runId).applyLog, 'utf8').catch(() => null);
  return live === null ? null : scrubber.tail(live, KEPT_OUTPUT_CHARS);
}
