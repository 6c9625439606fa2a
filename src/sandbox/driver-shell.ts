// The exec-only copy of the host's /bin/sh that a session's driver runs from (driver.ts says why: a
// process started from a file it cannot read is not dumpable). One copy per runner process, in a private
// directory of its own, checked before every use and made again when something removed or changed it.
import { constants as fsConstants, rmSync } from 'node:fs';
import { chmod, copyFile, lstat, mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const SOURCE = '/bin/sh';
const EXEC_ONLY = 0o111;

let made: { dir: string; file: string; size: number } | null = null;
let making: Promise<string> | null = null;

async function intact(file: string, size: number): Promise<boolean> {
  const info = await lstat(file).catch(() => null);
  return info !== null && info.isFile() && info.uid === (process.getuid?.() ?? 0) && (info.mode & 0o7777) === EXEC_ONLY && info.size === size;
}

/** An exec-only copy of the host's /bin/sh at `file` (which must not exist); returns its size. */
export async function copyExecOnly(file: string): Promise<number> {
  const source = await realpath(SOURCE);
  await copyFile(source, file, fsConstants.COPYFILE_EXCL);
  await chmod(file, EXEC_ONLY);
  return (await lstat(file)).size;
}

async function makeCopy(): Promise<string> {
  const size = (await lstat(await realpath(SOURCE))).size;
  if (made && (await intact(made.file, size))) return made.file;
  if (made) await rm(made.dir, { recursive: true, force: true });
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-driver-'));
  await chmod(dir, 0o700);
  const file = path.join(dir, 'sh');
  await copyExecOnly(file);
  if (!made) process.once('exit', () => made && rmSync(made.dir, { recursive: true, force: true }));
  made = { dir, file, size };
  return file;
}

/** The host path of the exec-only shell; made on first use, and again if it was removed or altered. */
export function driverShell(): Promise<string> {
  making ??= makeCopy().finally(() => {
    making = null;
  });
  return making;
}
