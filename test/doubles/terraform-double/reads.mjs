// What a plan decides besides resource changes: terraform_remote_state reads (now, or deferred to apply
// when their config is unknown or they sit in a check block), root outputs, and the conditions
// (preconditions, check assertions) whose failure errors the plan or warns.

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UNKNOWN, conditionHolds, evalExpr, isUnknown, literalMessage } from './eval.mjs';
import { HclError } from './hcl.mjs';
import { ctyType } from './state.mjs';

/** Data sources: deferred reads become `read` changes; known local reads happen now. */
export function planReads(model, ctx, cwd) {
  const changes = [];
  const warnings = [];
  for (const d of model.data.values()) {
    const config = d.attrs.config ? evalExpr(d.attrs.config, ctx).value : {};
    const backend = d.attrs.backend ? evalExpr(d.attrs.backend, ctx).value : undefined;
    const deferred = isUnknown(config) || d.check !== null;
    if (!deferred) {
      readRemoteState(d, backend, config, cwd);
      continue;
    }
    if (d.check !== null && !isUnknown(config) && !remoteStateExists(backend, config, cwd)) {
      warnings.push(['Unable to find remote state', `with data.${d.type}.${d.name}`, 'No stored state was found for the given workspace in the given backend.']);
    }
    const known = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== UNKNOWN));
    const unknownKeys = Object.fromEntries(Object.entries(config).filter(([, v]) => v === UNKNOWN).map(([k]) => [k, true]));
    changes.push({
      address: `data.${d.type}.${d.name}`,
      mode: 'data',
      type: d.type,
      name: d.name,
      index: undefined,
      sensitive: [],
      actions: ['read'],
      before: null,
      after: { backend, config: known, defaults: null, workspace: null },
      after_unknown: { config: unknownKeys, outputs: true },
      before_sensitive: false,
      after_sensitive: { config: {} },
      action_reason: d.check !== null ? 'read_because_check_nested' : 'read_because_config_unknown',
    });
  }
  return { changes, warnings };
}

function remoteStateExists(backend, config, cwd) {
  return backend === 'local' && existsSync(resolve(cwd, String(config.path ?? 'terraform.tfstate')));
}

function readRemoteState(d, backend, config, cwd) {
  const [file, line] = d.where.split(' line ');
  if (backend !== 'local') throw new HclError('Unsupported backend type', `The Airlock terraform double reads only the "local" backend in terraform_remote_state, not ${JSON.stringify(backend)}.`, file, Number(line));
  if (!remoteStateExists(backend, config, cwd)) {
    throw new HclError('Unable to find remote state', 'No stored state was found for the given workspace in the given backend.', file, Number(line));
  }
  JSON.parse(readFileSync(resolve(cwd, String(config.path ?? 'terraform.tfstate')), 'utf8'));
}

/** Root outputs against the prior state's: `output_changes` entries and `planned_values.outputs`. */
export function planOutputs(model, ctx, state) {
  const prior = state?.outputs ?? {};
  const changes = {};
  const planned = {};
  for (const o of model.outputs.values()) {
    const declared = o.attrs.sensitive?.kind === 'literal' && o.attrs.sensitive.value === true;
    const { value, sensitive } = evalExpr(o.attrs.value, ctx);
    if (sensitive && !declared) {
      const [file, line] = o.where.split(' line ');
      throw new HclError('Output refers to sensitive values', 'To reduce the risk of accidentally exporting sensitive data that was intended to be only internal, Terraform requires that any root module output containing sensitive data be explicitly marked as sensitive, to confirm your intent.', file, Number(line));
    }
    const unknown = isUnknown(value);
    const before = o.name in prior ? prior[o.name].value : null;
    const action = !(o.name in prior) ? 'create' : !unknown && JSON.stringify(before) === JSON.stringify(value) ? 'no-op' : 'update';
    changes[o.name] = { actions: [action], before, ...(unknown ? {} : { after: value }), after_unknown: unknown, before_sensitive: declared, after_sensitive: declared };
    planned[o.name] = unknown ? { sensitive: declared } : { sensitive: declared, type: ctyType(value), value };
  }
  for (const [name, old] of Object.entries(prior)) {
    if (model.outputs.has(name)) continue;
    changes[name] = { actions: ['delete'], before: old.value, after: null, after_unknown: false, before_sensitive: Boolean(old.sensitive), after_sensitive: Boolean(old.sensitive) };
  }
  return { changes: sortObject(changes), planned: sortObject(planned) };
}

/** Outputs as the state records them after an apply. */
export function stateOutputs(model, ctx) {
  const out = {};
  for (const o of model.outputs.values()) {
    const { value } = evalExpr(o.attrs.value, ctx);
    const sensitive = o.attrs.sensitive?.kind === 'literal' && o.attrs.sensitive.value === true;
    out[o.name] = { value, type: ctyType(value), ...(sensitive ? { sensitive: true } : {}) };
  }
  return sortObject(out);
}

/** Failed preconditions (errors: the plan is errored) and failed check assertions (warnings). */
export function checkConditions(model, ctx) {
  const errors = [];
  const warnings = [];
  for (const r of model.resources.values()) {
    for (const pre of r.lifecycle?.precondition ?? []) {
      if (conditionHolds(pre, ctx, 'precondition') === false) errors.push({ resource: `${r.type}.${r.name}`, diag: ['Resource precondition failed', pre.where, literalMessage(pre)] });
    }
  }
  for (const c of model.checks) {
    for (const a of c.asserts) {
      if (conditionHolds(a, ctx, 'assertion') === false) warnings.push(['Check block assertion failed', a.where, literalMessage(a)]);
    }
  }
  return { errors, warnings };
}

function sortObject(o) {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}
