// Credential failures, one class per signal. Vault answers are classified by HTTP status (node-vault does
// not export its error classes): 403 permission denied, 400 on login a bad role or secret id, 503
// sealed, 404 a missing path. No message ever carries a token, a secret id or a secret value.
import { AirlockError, type AirlockCode } from '../errors.ts';

/** What a request to Vault was for; names the identity and path in every message. */
export interface VaultContext {
  op: 'login' | 'read' | 'unwrap' | 'lookup-wrapping' | 'revoke' | 'lookup-self' | 'health';
  address: string;
  /** e.g. "the apply identity of infra/default" */
  identity?: string;
  path?: string;
}

/** A failed request as node-vault or the network reported it, reduced to what is safe to keep. */
export interface VaultFailure {
  status?: number;
  errors?: string[];
  /** A network error code such as ECONNREFUSED or ECONNABORTED (timeout). */
  network?: string;
  /** KV v2 answers 404 with the metadata of a deleted version instead of an errors array. */
  deletedVersion?: number;
}

export class VaultError extends AirlockError {
  readonly status: number | undefined;
  /** Alert-grade: somebody else may hold this identity's secret; an operator must look now. */
  readonly alert: boolean;
  constructor(code: AirlockCode, message: string, opts: { hint: string; status?: number; alert?: boolean; cause?: unknown }) {
    super(code, message, { hint: opts.hint, cause: opts.cause });
    this.status = opts.status;
    this.alert = opts.alert ?? false;
  }
}

const who = (ctx: VaultContext) => ctx.identity ?? 'the runner';

/** Turn a failed Vault request into the error an operator can act on. */
export function classifyVaultFailure(f: VaultFailure, ctx: VaultContext): VaultError {
  const said = f.errors?.filter(Boolean).join('; ');
  const vaultSaid = said ? ` (Vault said: ${said})` : '';
  const status = f.status;
  if (status === undefined) {
    return new VaultError('airlock:vault-unreachable', `cannot reach Vault at ${ctx.address} to ${describeOp(ctx)} for ${who(ctx)}: ${f.network ?? 'no response'}`, {
      hint: 'Check that Vault/OpenBao is running, `vault.address` is right and the runner host may reach it (deploy/egress.nft). Nothing was retried.',
    });
  }
  if (status === 503) {
    return new VaultError('airlock:vault-sealed', `Vault at ${ctx.address} is sealed (or not ready) and cannot ${describeOp(ctx)} for ${who(ctx)}${vaultSaid}`, {
      hint: 'Unseal Vault (`vault operator unseal` / `bao operator unseal`), then push again or re-approve. Nothing was retried.',
      status,
    });
  }
  if (ctx.op === 'unwrap' || ctx.op === 'lookup-wrapping') {
    if (status === 400 || status === 403 || status === 404) return unwrapFailed(`Vault refused the response-wrapped secret_id of ${who(ctx)}${vaultSaid}: it was already unwrapped, has expired, or was never a wrapping token`, status);
  }
  if (status === 403) {
    return new VaultError('airlock:vault-permission-denied', `Vault denied ${who(ctx)} ${ctx.path ? `access to \`${ctx.path}\`` : `the request to ${describeOp(ctx)}`}${vaultSaid}`, {
      hint: `Grant ${who(ctx)}'s policy the capability it needs on that path (see deploy/vault/*.hcl), or fix the mapping in the runner config.`,
      status,
    });
  }
  if (ctx.op === 'login' && status === 400) {
    return new VaultError('airlock:vault-bad-login', `Vault refused the AppRole login of ${who(ctx)}${vaultSaid}: the role_id is wrong, or the secret_id is used up, expired or revoked`, {
      hint: 'Issue a fresh secret_id for that role (deploy/vault/issue-secret-id.sh) and write it to the identity\'s `secretIdFile`; check `roleId` in the runner config.',
      status,
    });
  }
  if (status === 404) {
    const what = ctx.op === 'login' ? `no AppRole auth method is mounted at \`${ctx.path}\`` : f.deletedVersion !== undefined ? `the secret at \`${ctx.path}\` was deleted (version ${f.deletedVersion})` : `nothing is stored at \`${ctx.path}\``;
    return new VaultError('airlock:vault-missing-path', `${what} (needed by ${who(ctx)})`, {
      hint: 'Write the secret (KV v2 paths need the `data/` segment, e.g. `kv/data/proxmox#token`), undelete it, or fix the mapping in the runner config.',
      status,
    });
  }
  // A server error is worth another plan attempt; anything else Vault refused will be refused again.
  return new VaultError(status >= 500 ? 'airlock:vault-server-error' : 'airlock:vault-error', `Vault answered ${status} to ${describeOp(ctx)} for ${who(ctx)}${vaultSaid}`, {
    hint: 'Check the Vault server log and `airlock doctor`.',
    status,
  });
}

/** A wrapped secret_id that cannot be unwrapped or was not made by AppRole: alert, and no fallback. */
export function unwrapFailed(reason: string, status?: number): VaultError {
  return new VaultError('airlock:vault-unwrap-failed', `ALERT: ${reason}. Someone else may hold this identity's secret_id`, {
    hint: 'Treat it as a leak: revoke the role\'s secret_ids (`vault write -f auth/approle/role/<role>/secret-id/destroy` per accessor, or rotate the role), check the Vault audit log for who unwrapped it, then deliver a new wrapped secret_id.',
    status,
    alert: true,
  });
}

/** A secret path was read but the mapped key is missing or not a plain value. */
export function missingKey(path: string, key: string, identity: string, present: boolean): VaultError {
  return new VaultError(
    'airlock:vault-missing-key',
    present ? `\`${path}#${key}\` (for ${identity}) is not a string, number or boolean` : `\`${path}\` has no key \`${key}\` (needed by ${identity})`,
    { hint: 'Fix the key after `#` in the runner config mapping, or add the key to the secret.' },
  );
}

/** The secret_id file is missing, unreadable, empty or readable by others. */
export function secretIdFileProblem(file: string, identity: string, problem: string, cause?: unknown): VaultError {
  return new VaultError('airlock:vault-secret-id-file', `the secret_id file of ${identity}, ${file}, ${problem}`, {
    hint: `Write the secret_id to ${file}, owned by the runner user with mode 0600 (deploy/vault/issue-secret-id.sh does this).`,
    cause,
  });
}

/** A workspace uses Vault identities but the config has no `vault` section. */
export function vaultNotConfigured(where: string): VaultError {
  return new VaultError('airlock:vault-not-configured', `\`${where}\` uses Vault identities, but the runner config has no \`vault.address\``, {
    hint: 'Add a `vault:` section with `address:` (and `caFile:` for a private CA), or set `credentials: none`.',
  });
}

function describeOp(ctx: VaultContext): string {
  switch (ctx.op) {
    case 'login':
      return 'log in';
    case 'read':
      return ctx.path ? `read \`${ctx.path}\`` : 'read a secret';
    case 'unwrap':
      return 'unwrap the secret_id';
    case 'lookup-wrapping':
      return 'look up the wrapped secret_id';
    case 'revoke':
      return 'revoke the token';
    case 'lookup-self':
      return 'look up the token';
    case 'health':
      return 'check its health';
  }
}
