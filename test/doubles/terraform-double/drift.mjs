// Objects changed outside of terraform. The built-in provider's `terraform_data` never reads anything
// back (its refresh returns the prior state: checked against terraform 1.11.4, which reports no
// `resource_drift` however its state is edited), so the double models the remote side with a file:
// `<state file>.remote.json`, a map from instance address to the remote object's `{ "input": … }`, or
// null for an object deleted by hand. A plan refreshes each state instance from it and reports what
// differs as `resource_drift`, shaped as terraform reports drift of providers that do read back:
// `actions` ["update"] (after = the refreshed object) or ["delete"] (after = null). An apply writes
// the objects it touched, so the remote file forgets them.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { addressOf } from './eval.mjs';
import { attrMask } from './plan.mjs';
import { stateInstances, wrapDynamic } from './state.mjs';

const remotePath = (cwd, statePath) => `${resolve(cwd, statePath)}.remote.json`;

function readRemote(cwd, statePath) {
  const file = remotePath(cwd, statePath);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
}

/** The state as a refresh sees it, and the drift entries (in the double's change format). */
export function refreshState(cwd, statePath, state) {
  const remote = readRemote(cwd, statePath);
  if (!state || Object.keys(remote).length === 0) return { state, drift: [] };
  const next = structuredClone(state);
  const drift = [];
  const priorByAddr = new Map(stateInstances(state).map((p) => [addressOf(p.type, p.name, p.index), p]));
  for (const r of next.resources ?? []) {
    if (r.mode !== 'managed') continue;
    r.instances = r.instances.filter((inst) => {
      const address = addressOf(r.type, r.name, inst.index_key);
      if (!Object.hasOwn(remote, address)) return true;
      const prior = priorByAddr.get(address);
      const base = { address, type: r.type, name: r.name, index: inst.index_key, sensitive: [...prior.sensitive], before: prior.values, before_sensitive: attrMask(prior.values, prior.sensitive), after_unknown: {} };
      const object = remote[address];
      if (object === null) {
        drift.push({ ...base, actions: ['delete'], after: null, after_sensitive: false });
        return false;
      }
      const after = { ...prior.values, input: object.input ?? null, output: object.input ?? null };
      if (JSON.stringify(after) === JSON.stringify(prior.values)) return true;
      inst.attributes = { ...inst.attributes, input: wrapDynamic(after.input), output: wrapDynamic(after.output) };
      drift.push({ ...base, actions: ['update'], after, after_sensitive: attrMask(after, prior.sensitive) });
      return true;
    });
  }
  next.resources = (next.resources ?? []).filter((r) => r.instances.length > 0);
  return { state: next, drift };
}

/** After an apply: the objects it created, updated or deleted are what the remote side now holds. */
export function settleRemote(cwd, statePath, changes) {
  const file = remotePath(cwd, statePath);
  if (!existsSync(file)) return;
  const remote = readRemote(cwd, statePath);
  for (const c of changes) if (c.actions[0] !== 'no-op') delete remote[c.address];
  if (Object.keys(remote).length === 0) rmSync(file, { force: true });
  else writeFileSync(file, JSON.stringify(remote));
}
