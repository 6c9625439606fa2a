// State files (tfstate v4 layout) and the local backend's lock, as the double models them.
// Real terraform holds an fcntl lock on the state file and writes `.<name>.lock.info` beside it for
// others to read; the lock dies with the process, the info file may stay. The double cannot take fcntl
// locks from node, so the info file's existence is the lock (created with O_EXCL, removed on release or
// on SIGTERM), and a sidecar `<info>.pid` names the holder: an info file whose holder is dead (SIGKILL)
// does not block, as terraform's released OS lock would not.

import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';

export class StateError extends Error {
  constructor(summary, detail, extra) {
    super(summary);
    this.summary = summary;
    this.detail = detail;
    this.extra = extra;
  }
}

export function readState(cwd, statePath) {
  const p = resolve(cwd, statePath);
  if (!existsSync(p)) return null;
  const text = readFileSync(p, 'utf8');
  if (text.trim() === '') return null;
  let state;
  try {
    state = JSON.parse(text);
  } catch (err) {
    throw new StateError('Failed to load state', `Unsupported state file format: The state file could not be parsed as JSON: ${err.message}.`);
  }
  if (state.version !== 4) throw new StateError('Failed to load state', `Unsupported state file format: the double reads state version 4 only, got ${state.version}.`);
  return state;
}

export function writeState(cwd, statePath, state, hadPrior) {
  const p = resolve(cwd, statePath);
  mkdirSync(dirname(p), { recursive: true });
  if (hadPrior && existsSync(p)) copyFileSync(p, `${p}.backup`);
  const tmp = `${p}.airlock-double-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
  renameSync(tmp, p);
}

export function emptyState(version) {
  return { version: 4, terraform_version: version, serial: 0, lineage: randomUUID(), outputs: {}, resources: [], check_results: null };
}

/** cty's JSON type encoding, used for the dynamic `input`/`output` attributes. */
export function ctyType(v) {
  if (v === null) return 'dynamic';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return ['tuple', v.map(ctyType)];
  return ['object', Object.fromEntries(Object.entries(v).map(([k, x]) => [k, ctyType(x)]))];
}

export const wrapDynamic = (v) => (v === null ? null : { value: v, type: ctyType(v) });
export const unwrapDynamic = (w) => (w === null || w === undefined ? null : w.value);

/** Flatten a state into instance records keyed by address. */
export function stateInstances(state) {
  const out = [];
  for (const r of state?.resources ?? []) {
    if (r.mode !== 'managed') continue;
    for (const inst of r.instances) {
      const a = inst.attributes;
      const sensitive = new Set((inst.sensitive_attributes ?? []).map((path) => path[0]?.value));
      out.push({
        type: r.type,
        name: r.name,
        index: inst.index_key,
        values: { id: a.id, input: unwrapDynamic(a.input), output: unwrapDynamic(a.output), triggers_replace: unwrapDynamic(a.triggers_replace) },
        sensitive,
      });
    }
  }
  return out;
}

export function lockInfoPath(cwd, statePath) {
  const p = resolve(cwd, statePath);
  return join(dirname(p), `.${basename(p)}.lock.info`);
}

/** Parse a Go duration such as "30s", "1m30s", "500ms" into milliseconds. */
export function parseDuration(text) {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  const units = { ms: 1, s: 1000, m: 60000, h: 3600000 };
  let total = 0;
  let consumed = '';
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * units[m[2]];
    consumed += m[0];
  }
  if (consumed !== text || text === '') return NaN;
  return total;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Take the state lock, retrying until `timeoutMs`; returns a release function. */
export async function acquireLock({ cwd, statePath, operation, timeoutMs, version }) {
  const infoPath = lockInfoPath(cwd, statePath);
  mkdirSync(dirname(infoPath), { recursive: true });
  const info = {
    ID: randomUUID(),
    Operation: operation,
    Info: '',
    Who: `${safeUser()}@${hostname()}`,
    Version: version,
    Created: new Date().toISOString().replace('Z', '000000Z'),
    Path: statePath,
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      writeFileSync(infoPath, JSON.stringify(info), { flag: 'wx', mode: 0o600 });
      writeFileSync(`${infoPath}.pid`, String(process.pid), { mode: 0o600 });
      let released = false;
      return () => {
        if (released) return;
        released = true;
        for (const f of [infoPath, `${infoPath}.pid`]) {
          try { unlinkSync(f); } catch { /* already gone */ }
        }
      };
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    if (holderIsDead(infoPath)) {
      for (const f of [infoPath, `${infoPath}.pid`]) {
        try { unlinkSync(f); } catch { /* another process took it over first */ }
      }
      continue;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(100, Math.max(1, deadline - Date.now())));
  }
  let held = {};
  try { held = JSON.parse(readFileSync(infoPath, 'utf8')); } catch { /* unreadable info: print blanks like terraform */ }
  throw new StateError('Error acquiring the state lock', null, { lockInfo: held });
}

/** Whether the process that wrote the lock info is gone (its OS lock would have been released). */
function holderIsDead(infoPath) {
  let pid;
  try {
    pid = Number(readFileSync(`${infoPath}.pid`, 'utf8'));
  } catch {
    return false; // no pid yet (the holder is between its two writes) or not the double's: keep waiting
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return err.code === 'ESRCH';
  }
}

function safeUser() {
  try { return userInfo().username; } catch { return 'unknown'; }
}

/** The lock failure text, laid out exactly as terraform 1.x prints it. */
export function renderLockError(held) {
  return [
    '',
    'Error: Error acquiring the state lock',
    '',
    'Error message: resource temporarily unavailable',
    'Lock Info:',
    `  ID:        ${held.ID ?? ''}`,
    `  Path:      ${held.Path ?? ''}`,
    `  Operation: ${held.Operation ?? ''}`,
    `  Who:       ${held.Who ?? ''}`,
    `  Version:   ${held.Version ?? ''}`,
    `  Created:   ${goTime(held.Created)}`,
    `  Info:      ${held.Info ?? ''}`,
    '',
    '',
    'Terraform acquires a state lock to protect the state from being written',
    'by multiple users at the same time. Please resolve the issue above and try',
    'again. For most commands, you can disable locking with the "-lock=false"',
    'flag, but this is not recommended.',
    '',
  ].join('\n');
}

// Go prints time.Time as "2006-01-02 15:04:05.999999999 -0700 MST".
function goTime(iso) {
  if (typeof iso !== 'string') return '';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?Z$/.exec(iso);
  if (!m) return iso;
  return `${m[1]} ${m[2]}${m[3] ?? ''} +0000 UTC`;
}
