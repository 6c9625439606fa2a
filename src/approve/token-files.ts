// Secrets the approval channel needs come from files only the runner user can read, never from the YAML,
// and every value read is handed to the scrubber before anything can print it.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Scrubber } from '../log/scrub.ts';
import { TokenFileError } from './errors.ts';

const MAX_TOKEN_BYTES = 4096;

/** Resolve a token file path from the config: relative paths are relative to the config file's directory. */
export function resolveTokenFile(file: string, configFile: string): string {
  return path.resolve(path.dirname(configFile), file);
}

/** Read one token: the file must be a regular file owned by this user with no group/other access. */
export async function readTokenFile(file: string, scrubber: Scrubber, what = 'the ntfy access token (tk_…)'): Promise<string> {
  let info;
  try {
    info = await stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TokenFileError(file, code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`, 'Create it with the token on one line, then `chmod 600` it.', err);
  }
  if (!info.isFile()) throw new TokenFileError(file, 'is not a regular file', 'Point the config at a file holding the token.');
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new TokenFileError(file, `is owned by uid ${info.uid}, not the runner (uid ${uid})`, `chown $(id -un) ${file}`);
  }
  if ((info.mode & 0o077) !== 0) {
    throw new TokenFileError(file, `has mode ${(info.mode & 0o777).toString(8)}; other users could read the token`, `chmod 600 ${file}`);
  }
  if (info.size > MAX_TOKEN_BYTES) throw new TokenFileError(file, `is ${info.size} bytes; a token is one short line`, 'Put only the token in the file.');
  const token = (await readFile(file, 'utf8')).trim();
  if (token === '') throw new TokenFileError(file, 'is empty', `Write ${what} into it.`);
  if (/\s/.test(token)) throw new TokenFileError(file, 'holds more than one line or word', 'Put only the token in the file.');
  scrubber.add(token);
  return token;
}
