// The runner reading and keeping files that a sandbox wrote. A sandboxed engine may leave a symlink, a
// FIFO or a device where a file is expected, hoping the runner (perhaps root) follows it; these helpers
// open with O_NOFOLLOW|O_NONBLOCK, insist on a regular file, and copy into runner-owned files.
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { chmod, chown, open, rm, type FileHandle } from 'node:fs/promises';
import { AirlockError } from '../errors.ts';
import type { SandboxSettings } from './sandbox.ts';

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_WRONLY, O_CREAT, O_EXCL, O_TRUNC } = fsConstants;

/** Open a file a sandbox may have written: never a symlink, FIFO or device. */
export async function openUntrusted(file: string): Promise<FileHandle> {
  const handle = await open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  const info = await handle.stat();
  if (!info.isFile()) {
    await handle.close();
    throw new AirlockError('airlock:untrusted-file', `${file} is not a regular file; the engine left something else there`, { hint: 'Nothing was read from it. Re-plan; if it repeats, inspect the job directory.' });
  }
  return handle;
}

/** Read at most `maxBytes` of a file a sandbox may have written; null when it does not exist. */
export async function readUntrusted(file: string, maxBytes = 1024 * 1024): Promise<Buffer | null> {
  let handle: FileHandle;
  try {
    handle = await openUntrusted(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const buffer = Buffer.alloc(maxBytes + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > maxBytes) throw new AirlockError('airlock:untrusted-file', `${file} is larger than ${maxBytes} bytes`);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Copy `source` (possibly sandbox-written) into a new runner-owned file, fsynced, and return the sha256 of
 * exactly the bytes written: what is hashed is what a later engine reads.
 */
export async function copyHashed(source: string, dest: string): Promise<string> {
  const input = await openUntrusted(source);
  return pump(input, await open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600).catch(closing(input)));
}

/**
 * copyHashed into the runner-owned file already at `dest` (a placeholder a session's sandbox sees through a
 * read-only bind of that very inode), replacing its bytes. Refused unless it is a regular file of the runner.
 */
export async function copyHashedOver(source: string, dest: string): Promise<string> {
  const input = await openUntrusted(source);
  const output = await open(dest, O_WRONLY | O_NOFOLLOW | O_NONBLOCK).catch(closing(input));
  const info = await output.stat();
  if (!info.isFile() || info.uid !== (process.getuid?.() ?? 0)) {
    await Promise.all([input.close(), output.close()]);
    throw new AirlockError('airlock:untrusted-file', `${dest} is not the runner's own file; refusing to write the plan into it`, { hint: 'Re-plan; if it repeats, inspect the job directory.' });
  }
  await output.truncate(0);
  return pump(input, output);
}

const closing = (handle: FileHandle) => async (err: unknown): Promise<never> => {
  await handle.close();
  throw err;
};

async function pump(input: FileHandle, output: FileHandle): Promise<string> {
  const hash = createHash('sha256');
  try {
    const buffer = Buffer.alloc(1024 * 1024);
    for (;;) {
      const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hash.update(chunk);
      await output.write(chunk);
    }
    await output.sync();
  } finally {
    await input.close();
    await output.close();
  }
  return hash.digest('hex');
}

/** An empty runner-owned file at `file` (anything there is replaced), readable by the sandbox users as copyHashed's are. */
export async function createPlaceholder(file: string, settings: SandboxSettings | null): Promise<void> {
  await rm(file, { force: true });
  await (await open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_TRUNC, 0o600)).close();
  await shareReadOnlyWithSandbox(file, settings);
}

/**
 * Let the sandbox users read a runner-owned file through a read-only bind (root runner: group-readable by
 * the sandbox group, inside a 0700 runner directory). Without a sandbox, or as non-root, it stays 0600.
 */
export async function shareReadOnlyWithSandbox(file: string, settings: SandboxSettings | null): Promise<void> {
  const uid = process.getuid?.() ?? 0;
  if (!settings || uid !== 0) return;
  await chown(file, 0, settings.users.plan.gid);
  await chmod(file, 0o640);
}
