// Planning: compare configured instances to state, produce terraform-shaped resource changes, and
// read/write the double's plan file (a magic line followed by JSON; real plan files are zip archives).

import { readFileSync, writeFileSync } from 'node:fs';
import { PROVIDER, addressOf } from './config.mjs';
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

function attrMask(values, sensitive, extra = {}) {
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

const compareInst = (a, b) => (a.type !== b.type ? (a.type < b.type ? -1 : 1) : a.name !== b.name ? (a.name < b.name ? -1 : 1) : compareIndex(a.index, b.index));

/** Diff configured instances against the prior state. */
export function computeChanges(instances, state, configuredResources) {
  const prior = stateInstances(state);
  const byAddr = new Map(prior.map((p) => [addressOf(p.type, p.name, p.index), p]));
  const changes = [];
  for (const inst of instances) {
    const p = byAddr.get(inst.address);
    byAddr.delete(inst.address);
    const sensitive = new Set([inst.input.sensitive && 'input', inst.triggers.sensitive && 'triggers_replace'].filter(Boolean));
    const known = { input: inst.input.value, triggers_replace: inst.triggers.value };
    const unknownOutput = isStructured(inst.input.value) && !inst.input.sensitive ? { output: {} } : {};
    const base = { address: inst.address, type: inst.type, name: inst.name, index: inst.index, sensitive: [...sensitive] };
    if (!p) {
      changes.push({ ...base, actions: ['create'], before: null, after: known, after_unknown: attrMask(known, new Set(), { id: true, output: true }), before_sensitive: false, after_sensitive: attrMask(known, sensitive, unknownOutput) });
      continue;
    }
    const before = p.values;
    const beforeSensitive = attrMask(before, p.sensitive);
    if (!same(before.triggers_replace, known.triggers_replace)) {
      changes.push({ ...base, priorId: before.id, actions: ['delete', 'create'], before, after: known, after_unknown: attrMask(known, new Set(), { id: true, output: true }), before_sensitive: beforeSensitive, after_sensitive: attrMask(known, sensitive, unknownOutput), replace_paths: [['triggers_replace']], action_reason: 'replace_because_cannot_update' });
    } else if (!same(before.input, known.input)) {
      const after = { id: before.id, ...known };
      changes.push({ ...base, priorId: before.id, actions: ['update'], before, after: sortKeys(after), after_unknown: attrMask(after, new Set(), { output: true }), before_sensitive: beforeSensitive, after_sensitive: attrMask(after, sensitive, unknownOutput) });
    } else {
      changes.push({ ...base, priorId: before.id, actions: ['no-op'], before, after: before, after_unknown: {}, before_sensitive: beforeSensitive, after_sensitive: beforeSensitive });
    }
  }
  for (const p of byAddr.values()) {
    const r = configuredResources.get(`${p.type}.${p.name}`);
    const reason = !r ? 'delete_because_no_resource_config' : typeof p.index === 'number' ? 'delete_because_count_index' : p.index !== undefined ? 'delete_because_each_key' : 'delete_because_no_resource_config';
    changes.push({ address: addressOf(p.type, p.name, p.index), type: p.type, name: p.name, index: p.index, sensitive: [...p.sensitive], priorId: p.values.id, actions: ['delete'], before: p.values, after: null, after_unknown: {}, before_sensitive: attrMask(p.values, p.sensitive), after_sensitive: false, action_reason: reason });
  }
  return changes.sort(compareInst);
}

export function countChanges(changes) {
  const c = { add: 0, change: 0, destroy: 0 };
  for (const ch of changes) {
    const a = ch.actions.join(',');
    if (a === 'create') c.add++;
    else if (a === 'update') c.change++;
    else if (a === 'delete') c.destroy++;
    else if (a === 'delete,create') { c.add++; c.destroy++; }
  }
  return c;
}

export const hasChanges = (changes) => changes.some((c) => c.actions[0] !== 'no-op');

/** The `resource_changes[]` entries of `show -json`. */
export function renderResourceChanges(changes) {
  return changes.map((ch) => {
    const out = { address: ch.address, mode: 'managed', type: ch.type, name: ch.name };
    if (ch.index !== undefined) out.index = ch.index;
    out.provider_name = PROVIDER;
    out.change = { actions: ch.actions, before: ch.before, after: ch.after, after_unknown: ch.after_unknown, before_sensitive: ch.before_sensitive, after_sensitive: ch.after_sensitive };
    if (ch.replace_paths) out.change.replace_paths = ch.replace_paths;
    if (ch.action_reason) out.action_reason = ch.action_reason;
    return out;
  });
}

/** `planned_values` of `show -json`: every instance that exists after the apply. */
export function renderPlannedValues(changes) {
  const resources = changes
    .filter((ch) => ch.after !== null)
    .map((ch) => resourceValues(ch, ch.after, ch.after_sensitive));
  return { root_module: resources.length ? { resources } : {} };
}

function resourceValues(ch, values, sensitiveValues) {
  const out = { address: ch.address, mode: 'managed', type: ch.type, name: ch.name };
  if (ch.index !== undefined) out.index = ch.index;
  return Object.assign(out, { provider_name: PROVIDER, schema_version: 0, values, sensitive_values: sensitiveValues || {} });
}

/** `prior_state` of `show -json`, or undefined when there was no state. */
export function renderPriorState(state, version) {
  if (!state) return undefined;
  const resources = stateInstances(state)
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

// ---- human-readable rendering (close to terraform's, not byte-identical) ----

function renderValue(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.map(renderValue).join(', ')}]`;
  if (typeof v === 'object') return `{ ${Object.entries(v).map(([k, x]) => `${k} = ${renderValue(x)}`).join(', ')} }`;
  return JSON.stringify(v);
}

const SYMBOL = { create: '+', update: '~', delete: '-', 'delete,create': '-/+' };
const PHRASE = { create: 'will be created', update: 'will be updated in-place', delete: 'will be destroyed', 'delete,create': 'must be replaced' };
const LEGEND = { create: '  + create', update: '  ~ update in-place', delete: '  - destroy', 'delete,create': '-/+ destroy and then create replacement' };

export function renderPlanText(changes) {
  const real = changes.filter((c) => c.actions[0] !== 'no-op');
  if (!real.length) {
    return '\nNo changes. Your infrastructure matches the configuration.\n\nTerraform has compared your real infrastructure against your configuration\nand found no differences, so no changes are needed.\n';
  }
  const kinds = new Set(real.map((c) => c.actions.join(',')));
  const lines = ['', 'Terraform used the selected providers to generate the following execution', 'plan. Resource actions are indicated with the following symbols:'];
  for (const k of ['create', 'update', 'delete', 'delete,create']) if (kinds.has(k)) lines.push(LEGEND[k]);
  lines.push('', 'Terraform will perform the following actions:', '');
  for (const c of real) {
    const k = c.actions.join(',');
    const sens = new Set(c.sensitive);
    lines.push(`  # ${c.address} ${PHRASE[k]}`);
    if (c.action_reason === 'delete_because_no_resource_config') lines.push(`  # (because ${c.address} is not in configuration)`);
    lines.push(`${SYMBOL[k].padStart(3)} resource "${c.type}" "${c.name}" {`);
    const show = (name, v) => (sens.has(name) ? '(sensitive value)' : renderValue(v));
    const attrs = [];
    if (k === 'create') {
      attrs.push(['+', 'id', '(known after apply)'], ['+', 'input', show('input', c.after.input)], ['+', 'output', '(known after apply)']);
      if (c.after.triggers_replace !== null) attrs.push(['+', 'triggers_replace', show('triggers_replace', c.after.triggers_replace)]);
    } else if (k === 'delete') {
      for (const [n, v] of Object.entries(c.before)) if (v !== null) attrs.push(['-', n, `${show(n, v)} -> null`]);
    } else if (k === 'update') {
      attrs.push([' ', 'id', renderValue(c.before.id)], ['~', 'input', `${show('input', c.before.input)} -> ${show('input', c.after.input)}`], ['~', 'output', `${show('input', c.before.output)} -> (known after apply)`]);
    } else {
      attrs.push(['~', 'id', `${renderValue(c.before.id)} -> (known after apply)`], ['~', 'output', `${show('input', c.before.output)} -> (known after apply)`], ['~', 'triggers_replace', `${show('triggers_replace', c.before.triggers_replace)} -> ${show('triggers_replace', c.after.triggers_replace)} # forces replacement`]);
    }
    const width = Math.max(...attrs.map((a) => a[1].length));
    for (const [s, n, v] of attrs) lines.push(`      ${s} ${n.padEnd(width)} = ${v}`);
    lines.push('    }', '');
  }
  const n = countChanges(changes);
  lines.push(`Plan: ${n.add} to add, ${n.change} to change, ${n.destroy} to destroy.`);
  return lines.join('\n') + '\n';
}
