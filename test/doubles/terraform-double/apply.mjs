// Applying a saved plan to the state, as terraform's apply does for what the double models: moved
// objects keep their id under the new address, forgotten ones leave the state without being destroyed,
// imports bring in the object, create-before-destroy replaces create first; then deferred data-source
// reads run and the root outputs are recorded.

import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { evalExpr } from './eval.mjs';
import { stateOutputs } from './reads.mjs';
import { emptyState, wrapDynamic } from './state.mjs';

/** Apply a plan's resource changes to `state`: moves, forgets, deletes, imports, then creates and updates. */
export function applyChanges(state, changes, version, out) {
  const next = state ? structuredClone(state) : emptyState(version);
  next.terraform_version = version;
  next.serial = (state?.serial ?? 0) + 1;
  const key = (type, name) => `${type}.${name}`;
  const resources = new Map(next.resources.map((r) => [key(r.type, r.name), r]));
  const sameIndex = (inst, ch) => (inst.index_key ?? null) === (ch.index ?? null);
  const resourceFor = (ch) => {
    let r = resources.get(key(ch.type, ch.name));
    if (!r) {
      r = { mode: 'managed', type: ch.type, name: ch.name, provider: `provider["terraform.io/builtin/terraform"]`, instances: [] };
      resources.set(key(ch.type, ch.name), r);
    }
    return r;
  };
  const put = (ch, inst) => {
    const r = resourceFor(ch);
    r.instances = r.instances.filter((i) => !sameIndex(i, ch));
    r.instances.push(inst);
    r.instances.sort((a, b) => ((a.index_key ?? -1) > (b.index_key ?? -1) ? 1 : -1));
  };
  const counts = { added: 0, changed: 0, destroyed: 0, imported: 0 };
  const managed = changes.filter((c) => c.mode !== 'data');
  // moved: the object keeps its id and values under its new address
  for (const ch of managed.filter((c) => c.previous_address)) {
    const [type, name] = ch.previous_address.replace(/\[.*$/, '').split('.');
    const from = resources.get(key(type, name));
    const inst = from?.instances.find((i) => sameIndex(i, ch));
    if (!from || !inst) continue;
    from.instances = from.instances.filter((i) => i !== inst);
    put(ch, inst);
  }
  for (const ch of managed.filter((c) => c.actions[0] === 'forget')) {
    const r = resources.get(key(ch.type, ch.name));
    if (r) r.instances = r.instances.filter((i) => !sameIndex(i, ch));
  }
  for (const ch of managed.filter((c) => c.actions[0] === 'delete')) {
    out(`${ch.address}: Destroying... [id=${ch.priorId}]\n`);
    const r = resources.get(key(ch.type, ch.name));
    if (r) r.instances = r.instances.filter((i) => !sameIndex(i, ch));
    out(`${ch.address}: Destruction complete after 0s\n`);
    counts.destroyed++;
  }
  for (const ch of managed.filter((c) => c.importing)) {
    out(`${ch.address}: Importing... [id=${ch.importing.id}]\n${ch.address}: Import complete [id=${ch.importing.id}]\n`);
    counts.imported++;
    if (ch.actions[0] === 'no-op') put(ch, instanceOf(ch, ch.before));
  }
  for (const ch of managed.filter((c) => c.actions.includes('create') || c.actions[0] === 'update')) {
    const updating = ch.actions[0] === 'update';
    out(updating ? `${ch.address}: Modifying... [id=${ch.priorId}]\n` : `${ch.address}: Creating...\n`);
    const id = updating ? ch.priorId : randomUUID();
    put(ch, instanceOf(ch, { id, input: ch.after.input, output: ch.after.input, triggers_replace: ch.after.triggers_replace }));
    out(updating ? `${ch.address}: Modifications complete after 0s [id=${id}]\n` : `${ch.address}: Creation complete after 0s [id=${id}]\n`);
    if (updating) counts.changed++;
    else counts.added++;
    if (ch.actions.join(',') === 'create,delete') {
      out(`${ch.address} (deposed object): Destroying... [id=${ch.priorId}]\n${ch.address}: Destruction complete after 0s\n`);
      counts.destroyed++;
    } else if (ch.actions.length === 2) counts.destroyed++;
  }
  next.resources = [...resources.values()].filter((r) => r.instances.length).sort((a, b) => (a.name < b.name ? -1 : 1));
  return { next, counts };
}

function instanceOf(ch, values) {
  const inst = {};
  if (ch.index !== undefined) inst.index_key = ch.index;
  return Object.assign(inst, {
    schema_version: 0,
    attributes: { id: values.id, input: wrapDynamic(values.input), output: wrapDynamic(values.output), triggers_replace: wrapDynamic(values.triggers_replace) },
    sensitive_attributes: ch.sensitive.map((a) => [{ type: 'get_attr', value: a }]),
  });
}

/** After the resources are applied: deferred reads run, then the outputs are recorded; false when a read failed. */
export function finishReadsAndOutputs(next, plan, model, out) {
  if (!model) return true;
  const resources = new Map();
  for (const r of next.resources) {
    for (const i of r.instances) {
      if (i.index_key !== undefined) continue;
      const a = i.attributes;
      resources.set(`${r.type}.${r.name}`, { values: { id: a.id, input: a.input?.value ?? null, output: a.output?.value ?? null, triggers_replace: a.triggers_replace?.value ?? null }, sensitive: new Set((i.sensitive_attributes ?? []).map((p) => p[0]?.value)) });
    }
  }
  const vars = Object.fromEntries(Object.entries(plan.variables).map(([k, v]) => [k, { value: v.value, sensitive: false }]));
  const ctx = { vars, resources };
  for (const ch of plan.changes.filter((c) => c.mode === 'data')) {
    out(`${ch.address}: Reading...\n`);
    const d = model.data.get(ch.address);
    const config = d?.attrs.config ? evalExpr(d.attrs.config, ctx).value : {};
    if (!existsSync(resolve(process.cwd(), String(config.path ?? 'terraform.tfstate')))) {
      // a check block's data source only warns, as its assertion would
      const kind = d?.check ? 'Warning' : 'Error';
      process.stderr.write(`\n${kind}: Unable to find remote state\n\n  with ${ch.address},\n\nNo stored state was found for the given workspace in the given backend.\n\n`);
      if (!d?.check) return false;
      continue;
    }
    out(`${ch.address}: Read complete after 0s\n`);
  }
  next.outputs = stateOutputs(model, ctx);
  return true;
}
