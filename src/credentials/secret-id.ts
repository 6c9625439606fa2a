// Where an identity's secret_id comes from: a file only the runner user can read, re-read for every job so
// an operator can rotate it without a restart. A response-wrapped secret_id is unwrapped once per
// wrapping token (a wrapping token is single-use) and kept in memory only.
import { createHash } from 'node:crypto';
import { access, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Scrubber } from '../log/scrub.ts';
import type { IdentityConfig } from './config.ts';
import { isSecretIdCreationPath } from './credentials.ts';
import { secretIdFileProblem, unwrapFailed, VaultError } from './errors.ts';
import type { VaultClient } from './vault-client.ts';

/** Read the file's content, refusing files that others could read. */
export async function readSecretIdFile(file: string, identity: string): Promise<string> {
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw secretIdFileProblem(file, identity, code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`);
  }
  if ((mode & 0o077) !== 0) throw secretIdFileProblem(file, identity, `has mode ${(mode & 0o777).toString(8)}; others on the host could read the secret_id`);
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    throw secretIdFileProblem(file, identity, `cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  if (text === '' || /\s/.test(text)) throw secretIdFileProblem(file, identity, text === '' ? 'is empty' : 'must hold one token and nothing else');
  return text;
}

/**
 * A source of secret_ids for every identity of the runner, with the unwrap-once cache. `spentDir` (under the
 * data dir) records the digest of every wrapping token this runner unwrapped, so that a token it used up
 * itself before a restart is told apart from one someone else used up: the first needs a new delivery, the
 * second is the alert.
 */
export function createSecretIdSource(scrubber: Scrubber, opts: { spentDir?: string } = {}) {
  const unwrapped = new Map<string, { digest: string; secretId: Promise<string> }>();
  const spentMark = (digest: string) => (opts.spentDir ? path.join(opts.spentDir, digest) : null);

  async function unwrapSecretId(client: VaultClient, wrappingToken: string, mount: string, file: string, digest: string): Promise<string> {
    const mark = spentMark(digest);
    try {
      const secretId = await unwrapOnce(client, wrappingToken, mount, file);
      // Only a hint for later: failing to note it must not fail the job that holds a good secret_id.
      if (mark) await mkdir(path.dirname(mark), { recursive: true, mode: 0o700 }).then(() => writeFile(mark, '', { mode: 0o600 })).catch(() => undefined);
      return secretId;
    } catch (err) {
      const usedUp = err instanceof VaultError && err.code === 'airlock:vault-unwrap-failed' && err.status !== undefined;
      if (usedUp && mark && (await access(mark).then(() => true, () => false))) throw spentByThisRunner(file);
      throw err;
    }
  }

  async function unwrapOnce(client: VaultClient, wrappingToken: string, mount: string, file: string): Promise<string> {
    // Look before using it up: a token wrapping anything but an AppRole secret_id is not ours to unwrap.
    const info = await client.lookupWrapping(wrappingToken);
    if (!isSecretIdCreationPath(info.creationPath, mount)) {
      throw unwrapFailed(`the wrapping token in ${file} was created at \`${info.creationPath || 'an unknown path'}\`, not by \`auth/${mount}/role/<role>/secret-id\``);
    }
    const body = (await client.unwrap(wrappingToken)) as { data?: { secret_id?: unknown } } | undefined;
    const secretId = body?.data?.secret_id;
    if (typeof secretId !== 'string' || secretId === '') throw unwrapFailed(`the wrapping token in ${file} did not hold a secret_id`);
    scrubber.add(secretId);
    return secretId;
  }

  return {
    /** The secret_id to log in with. Throws VaultError; never falls back to another identity's. */
    async secretIdFor(identity: IdentityConfig, label: string, client: VaultClient): Promise<string> {
      const content = await readSecretIdFile(identity.secretIdFile, label);
      scrubber.add(content);
      if (!identity.wrapped) return content;
      const digest = createHash('sha256').update(content).digest('hex');
      const cached = unwrapped.get(identity.secretIdFile);
      if (cached?.digest === digest) return cached.secretId;
      // One unwrap in flight per token: two jobs starting together must not race each other into an alert.
      const secretId = unwrapSecretId(client, content, identity.mount, identity.secretIdFile, digest);
      unwrapped.set(identity.secretIdFile, { digest, secretId });
      secretId.catch((err: unknown) => {
        // A sealed or unreachable Vault never saw the token: try again on the next job. Any other failure
        // stays cached, so each job is refused at once instead of asking Vault again.
        if (err instanceof VaultError && err.retryable && unwrapped.get(identity.secretIdFile)?.secretId === secretId) unwrapped.delete(identity.secretIdFile);
      });
      return secretId;
    },
  };
}

export type SecretIdSource = ReturnType<typeof createSecretIdSource>;

/** The wrapping token in the file is one this runner unwrapped before it restarted: re-deliver, no alert. */
function spentByThisRunner(file: string): VaultError {
  return new VaultError('airlock:vault-secret-id-spent', `the response-wrapped secret_id in ${file} was unwrapped by this runner before it restarted; a wrapping token works once, so this start needs a new one (a routine restart, not a leak)`, {
    hint: 'Deliver a new wrapped secret_id and restart: deploy/vault/redeliver.sh <runner> <file-prefix> (recorded in the Vault audit log), or use a plain secret_id file for this identity.',
  });
}
