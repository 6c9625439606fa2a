// The credentials domain: which Vault/OpenBao identity a phase logs in with, which secrets it reads, and
// how they reach the engine child. The plan phase runs the pull request's code, so it only ever holds the
// plan identity's read-only secrets; the apply identity is used for `apply` alone, never as a fallback.
// This file holds the types and the pure rules; vault-client.ts is the only node-vault user,
// provider.ts holds the per-job effects, errors.ts the error codes.
import type { Run } from '../run/run.ts';
// The pure rule itself, not the engine's surface, which would load the engine adapter (execa) with the config.
import { deniedEngineEnvReason } from '../engine/engine-env.ts';

export type Phase = 'plan' | 'apply';

/** One place a secret value comes from: `mount/path#key`, e.g. `kv/data/proxmox#token`. */
export interface SecretRef {
  path: string;
  key: string;
}

/** What a phase's engine child gets, and how to take it back. */
export interface Credentials {
  env: Record<string, string>;
  /** Revoke the leases, then the token. Never throws; safe to call twice. */
  release(): Promise<void>;
}

/** Per job: log in with that phase's identity and read its mapped secrets (what the jobs ask for). */
export interface CredentialProvider {
  forPlan(run: Run): Promise<Credentials>;
  forApply(run: Run): Promise<Credentials>;
}

export const NO_CREDENTIALS: Credentials = { env: {}, release: async () => undefined };

const PATH_SEGMENT = /^[A-Za-z0-9_.@=+:-]+$/;
const KEY = /^[A-Za-z0-9_.-]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parse `mount/path#key`; null when it is not one. */
export function parseSecretRef(text: string): SecretRef | null {
  const hash = text.indexOf('#');
  if (hash <= 0 || hash !== text.lastIndexOf('#')) return null;
  const path = text.slice(0, hash);
  const key = text.slice(hash + 1);
  const segments = path.split('/');
  if (segments.length < 2 || !KEY.test(key)) return null;
  if (!segments.every((s) => PATH_SEGMENT.test(s) && s !== '.' && s !== '..')) return null;
  return { path, key };
}

/** Why `name` cannot receive a secret in the engine child, or null when it can. */
export function secretEnvNameProblem(name: string): string | null {
  if (!ENV_NAME.test(name)) return 'must be an environment variable name like TF_VAR_pm_api_token or PM_API_TOKEN_SECRET';
  const denied = deniedEngineEnvReason(name);
  return denied ? `must not be a variable the engine adapter reserves (${denied})` : null;
}

/** The distinct paths of a mapping: each is read once per job, so a dynamic secret's fields share one lease. */
export function pathsToRead(secrets: Record<string, SecretRef>): string[] {
  return [...new Set(Object.values(secrets).map((r) => r.path))];
}

export type SecretShape = 'kv2' | 'kv1-or-dynamic';

/**
 * The key/value map inside a read response. KV v2 nests it under `data.data` beside `data.metadata`
 * (with a `version`); KV v1 and dynamic engines put it directly under `data`.
 */
export function secretFields(body: unknown): { shape: SecretShape; fields: Record<string, unknown> } | null {
  const data = (body as { data?: unknown } | null)?.data;
  if (!isObject(data)) return null;
  const inner = data['data'];
  const metadata = data['metadata'];
  if (isObject(inner) && isObject(metadata) && 'version' in metadata) return { shape: 'kv2', fields: inner };
  return { shape: 'kv1-or-dynamic', fields: data };
}

/** A field's value as an environment string; objects and arrays are refused (null). */
export function envValue(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

/** How long a phase's token (and its leases) must live: every engine step of the phase, at its limit. */
export function neededTtlMs(phase: Phase, timeouts: { init: number; plan: number; show: number; apply: number }): number {
  return phase === 'plan' ? timeouts.init + timeouts.plan + timeouts.show : timeouts.apply;
}

/** Why a TTL of `ttlSeconds` is too short for `neededMs`, or null. A TTL of 0 means no expiry. */
export function ttlShortfall(ttlSeconds: number, neededMs: number): string | null {
  if (ttlSeconds === 0 || ttlSeconds * 1000 >= neededMs) return null;
  return `${formatSeconds(ttlSeconds)} is shorter than the ${formatSeconds(Math.ceil(neededMs / 1000))} the engine may run`;
}

/** "45m", "1h30m", "90s": how Vault and the runner config spell durations. */
export function formatSeconds(total: number): string {
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const text = `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
  return text || '0s';
}

/** The creation path a response-wrapped AppRole secret_id must carry. */
export function isSecretIdCreationPath(creationPath: string, mount: string): boolean {
  const prefix = `auth/${mount}/role/`;
  if (!creationPath.startsWith(prefix) || !creationPath.endsWith('/secret-id')) return false;
  const role = creationPath.slice(prefix.length, -'/secret-id'.length);
  return role.length > 0 && !role.includes('/');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
