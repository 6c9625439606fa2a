// Planning: compare configured instances to state, produce terraform-shaped resource changes, and
// read/write the double's plan file (a magic line followed by JSON; real plan files are zip archives).

import { readFileSync, writeFileSync } from 'node:fs';
import { HclError } from './hcl.mjs';
import { PROVIDER } from './config.mjs';
import { UNKNOWN, addressOf, evalExpr } from './eval.mjs';
import { stateInstances } from './state.mjs';

export const PLAN_MAGIC = 'AIRLOCK-TERRAFORM-DOUBLE-PLAN/1\n';

const canon = (v) => JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x));
const same = (a, b) => canon(a) === canon(b);

// terraform's shape masks: false at leaves, arrays kept element-wise, objects keep only non-false.
function mask(v) {
  if (Array.isArray(v)) return v.map(mask);
  if (v && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      const m = mask(x);
      if (m !== false) out[k] = m;
    }
    return out;
  }
  return false;
}

const isStructured = (v) => v !== null && typeof v === 'object';

function sortKeys(o) {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export function attrMask(values, sensitive, extra = {}) {
  const out = { ...extra };
  for (const [k, v] of Object.entries(values)) {
    if (sensitive.has(k)) out[k] = true;
    else {
      const m = mask(v);
      if (m !== false) out[k] = m;
    }
  }
  return sortKeys(out);
}

function compareIndex(a, b) {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : 1;
}

// terraform lists data sources (data.*) before managed resources, then by type, name and index.
const modeRank = (c) => (c.mode === 'data' ? 0 : 1);
const compareInst = (a, b) => (modeRank(a) !== modeRank(b) ? modeRank(a) - modeRank(b) : a.type !== b.type ? (a.type < b.type ? -1 : 1) : a.name !== b.name ? (a.name < b.name ? -1 : 1) : compareIndex(a.index, b.index));
export const sortChanges = (changes) => changes.sort(compareInst);

/**
 * Diff configured instances against the prior state, after `moved` blocks renamed prior instances and
 * `import` blocks brought in new ones; resources gone from the config are deleted, or forgotten when a
 * `removed` block says `destroy = false`.
 */
export function computeChanges(instances, state, model) {
  const prior = stateInstances(state);
  const configured = model.resources;
  for (const m of model.moved ?? []) {
    const taken = prior.some((p) => `${p.type}.${p.name}` === m.to);
    for (const p of prior) {
      if (`${p.type}.${p.name}` !== m.from || taken) continue;
      p.previous = addressOf(p.type, p.name, p.index);
      p.name = m.to.split('.')[1];
    }
  }
  const byAddr = new Map(prior.map((p) => [addressOf(p.type, p.name, p.index), p]));
  for (const imp of model.imports ?? []) {
    if (byAddr.has(imp.to)) continue;
    const id = String(evalExpr(imp.id, { vars: {} }).value);
    const [type, name] = imp.to.split('.');
    byAddr.set(imp.to, { type, name, index: undefined, values: { id, input: null, output: null, triggers_replace: null }, sensitive: new Set(), importing: { id } });
  }
  const changes = [];
  for (const inst of instances) {
    const p = byAddr.get(inst.address);
    byAddr.delete(inst.address);
    const lifecycle = configured.get(`${inst.type}.${inst.name}`)?.lifecycle ?? {};
    const ignored = ignoredAttributes(lifecycle);
    const sensitive = new Set([inst.input.sensitive && 'input', inst.triggers.sensitive && 'triggers_replace'].filter(Boolean));
    const known = { input: p && ignored.has('input') ? p.values.input : inst.input.value, triggers_replace: p && ignored.has('triggers_replace') ? p.values.triggers_replace : inst.triggers.value };
    const unknownOutput = isStructured(known.input) && !inst.input.sensitive ? { output: {} } : {};
    const base = { address: inst.address, type: inst.type, name: inst.name, index: inst.index, sensitive: [...sensitive], ...(p?.previous ? { previous_address: p.previous } : {}), ...(p?.importing ? { importing: p.importing } : {}) };
    if (!p) {
      changes.push({ ...base, actions: ['create'], before: null, after: known, after_unknown: attrMask(known, new Set(), { id: true, output: true }), before_sensitive: false, after_sensitive: attrMask(known, sensitive, unknownOutput) });
      continue;
    }
    const before = p.values;
    const beforeSensitive = attrMask(before, p.sensitive);
    if (!same(before.triggers_replace, known.triggers_replace)) {
      refuseDestroy(lifecycle, inst.address);
      const order = isTrue(lifecycle.create_before_destroy) ? ['create', 'delete'] : ['delete', 'create'];
      changes.push({ ...base, priorId: before.id, actions: order, before, after: known, after_unknown: attrMask(known, new Set(), { id: true, output: true }), before_sensitive: beforeSensitive, after_sensitive: attrMask(known, sensitive, unknownOutput), replace_paths: [['triggers_replace']], action_reason: 'replace_because_cannot_update' });
    } else if (!same(before.input, known.input)) {
      const after = { id: before.id, ...known };
      changes.push({ ...base, priorId: before.id, actions: ['update'], before, after: sortKeys(after), after_unknown: attrMask(after, new Set(), { output: true }), before_sensitive: beforeSensitive, after_sensitive: attrMask(after, sensitive, unknownOutput) });
    } else {
      changes.push({ ...base, priorId: before.id, actions: ['no-op'], before, after: before, after_unknown: {}, before_sensitive: beforeSensitive, after_sensitive: beforeSensitive });
    }
  }
  for (const p of byAddr.values()) {
    const r = configured.get(`${p.type}.${p.name}`);
    const reason = !r ? 'delete_because_no_resource_config' : typeof p.index === 'number' ? 'delete_because_count_index' : p.index !== undefined ? 'delete_because_each_key' : 'delete_because_no_resource_config';
    const forget = !r && (model.removed ?? []).some((x) => x.from === `${p.type}.${p.name}` && !x.destroy);
    if (!forget && r) refuseDestroy(r.lifecycle ?? {}, addressOf(p.type, p.name, p.index));
    changes.push({ address: addressOf(p.type, p.name, p.index), type: p.type, name: p.name, index: p.index, sensitive: [...p.sensitive], priorId: p.values.id, ...(p.previous ? { previous_address: p.previous } : {}), actions: [forget ? 'forget' : 'delete'], before: p.values, after: null, after_unknown: {}, before_sensitive: attrMask(p.values, p.sensitive), after_sensitive: false, action_reason: reason });
  }
  return changes.sort(compareInst);
}

const isTrue = (expr) => expr?.kind === 'literal' && expr.value === true;

function ignoredAttributes(lifecycle) {
  const e = lifecycle.ignore_changes;
  if (!e) return new Set();
  if (e.kind === 'ref' && e.text === 'all') return new Set(['input', 'triggers_replace']);
  if (e.kind === 'tuple') return new Set(e.items.filter((i) => i.kind === 'ref').map((i) => i.text));
  return new Set();
}

function refuseDestroy(lifecycle, address) {
  if (!isTrue(lifecycle.prevent_destroy)) return;
  throw new HclError('Instance cannot be destroyed', `Resource ${address} has lifecycle.prevent_destroy set, but the plan calls for this resource to be destroyed. To avoid this error and continue with the plan, either disable lifecycle.prevent_destroy or reduce the scope of the plan using the -target option.`, '', 0);
}

/** What expressions see of each resource after the plan: attributes the apply will decide are UNKNOWN. */
export function resourceContext(changes) {
  const out = new Map();
  for (const ch of changes) {
    if (ch.mode === 'data' || ch.after === null || ch.index !== undefined) continue;
    const a = ch.actions.join(',');
    const values = a === 'no-op' ? { ...ch.before } : { id: a === 'update' ? ch.before.id : UNKNOWN, input: ch.after.input, output: UNKNOWN, triggers_replace: ch.after.triggers_replace };
    out.set(`${ch.type}.${ch.name}`, { values, sensitive: new Set(ch.sensitive) });
  }
  return out;
}

export function countChanges(changes) {
  const c = { add: 0, change: 0, destroy: 0, import: 0, forget: 0 };
  for (const ch of changes) {
    const a = ch.actions.join(',');
    if (ch.importing) c.import++;
    if (a === 'create') c.add++;
    else if (a === 'update') c.change++;
    else if (a === 'delete') c.destroy++;
    else if (a === 'forget') c.forget++;
    else if (a === 'delete,create' || a === 'create,delete') { c.add++; c.destroy++; }
  }
  return c;
}

/** Whether applying would do anything: an action, a move, an import, or an output change. */
export const hasChanges = (changes, outputs = {}) =>
  changes.some((c) => c.actions[0] !== 'no-op' || c.previous_address || c.importing) || Object.values(outputs).some((o) => o.actions[0] !== 'no-op');

/** The `resource_changes[]` entries of `show -json`. */
export function renderResourceChanges(changes) {
  return changes.map((ch) => {
    const out = { address: ch.address };
    if (ch.previous_address) out.previous_address = ch.previous_address;
    Object.assign(out, { mode: ch.mode ?? 'managed', type: ch.type, name: ch.name });
    if (ch.index !== undefined) out.index = ch.index;
    out.provider_name = PROVIDER;
    out.change = { actions: ch.actions, before: ch.before, after: ch.after, after_unknown: ch.after_unknown, before_sensitive: ch.before_sensitive, after_sensitive: ch.after_sensitive };
    if (ch.replace_paths) out.change.replace_paths = ch.replace_paths;
    if (ch.importing) out.change.importing = ch.importing;
    if (ch.action_reason) out.action_reason = ch.action_reason;
    return out;
  });
}

/** `planned_values` of `show -json`: every instance that exists after the apply, and the root outputs. */
export function renderPlannedValues(changes, outputs = {}) {
  const resources = changes
    .filter((ch) => ch.after !== null || ch.actions[0] === 'forget')
    .map((ch) => (ch.after === null ? forgottenValues(ch) : resourceValues(ch, ch.after, ch.after_sensitive)));
  return { ...(Object.keys(outputs).length ? { outputs } : {}), root_module: resources.length ? { resources } : {} };
}

// terraform keeps a forgotten object in planned_values, without values
function forgottenValues(ch) {
  const out = resourceValues(ch, null, false);
  delete out.values;
  out.sensitive_values = false;
  return out;
}

function resourceValues(ch, values, sensitiveValues) {
  const out = { address: ch.address, mode: ch.mode ?? 'managed', type: ch.type, name: ch.name };
  if (ch.index !== undefined) out.index = ch.index;
  return Object.assign(out, { provider_name: PROVIDER, schema_version: 0, values, sensitive_values: sensitiveValues || {} });
}

/** `prior_state` of `show -json`, or undefined when there was no state. */
export function renderPriorState(state, version, changes = []) {
  // objects being imported are read before planning, so the prior state holds them
  const imported = changes.filter((c) => c.importing).map((c) => ({ type: c.type, name: c.name, index: c.index, values: c.before, sensitive: new Set() }));
  if (!state && imported.length === 0) return undefined;
  const resources = [...stateInstances(state), ...imported]
    .sort(compareInst)
    .map((p) => resourceValues({ address: addressOf(p.type, p.name, p.index), type: p.type, name: p.name, index: p.index }, p.values, attrMask(p.values, p.sensitive)));
  return { format_version: '1.0', terraform_version: version, values: { root_module: resources.length ? { resources } : {} } };
}

export function writePlanFile(path, plan) {
  writeFileSync(path, PLAN_MAGIC + JSON.stringify(plan));
}

export class PlanFileError extends Error {}

export function readPlanFile(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PlanFileError(`couldn't load the provided path as a local plan file (${err.code === 'ENOENT' ? 'no such file or directory' : err.message})`);
  }
  if (!text.startsWith(PLAN_MAGIC)) throw new PlanFileError("couldn't load the provided path as a local plan file (zip: not a valid zip file)");
  try {
    const plan = JSON.parse(text.slice(PLAN_MAGIC.length));
    if (!plan || !Array.isArray(plan.changes)) throw new Error('missing changes');
    return plan;
  } catch (err) {
    throw new PlanFileError(`the plan file is corrupt: ${err.message}`);
  }
}
