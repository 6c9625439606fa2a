// The human-readable plan, close to terraform's (values printed as terraform prints them, not
// byte-identical: see README.md).

import { countChanges } from './plan.mjs';

function renderValue(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.map(renderValue).join(', ')}]`;
  if (typeof v === 'object') return `{ ${Object.entries(v).map(([k, x]) => `${k} = ${renderValue(x)}`).join(', ')} }`;
  return JSON.stringify(v);
}

const SYMBOL = { create: '+', update: '~', delete: '-', 'delete,create': '-/+', 'create,delete': '+/-', forget: '.', read: '<=', 'no-op': ' ' };
const PHRASE = { create: 'will be created', update: 'will be updated in-place', delete: 'will be destroyed', 'delete,create': 'must be replaced', 'create,delete': 'must be replaced', forget: 'will no longer be managed by Terraform, but will not be destroyed', read: 'will be read during apply' };
const LEGEND = { create: '  + create', update: '  ~ update in-place', delete: '  - destroy', 'delete,create': '-/+ destroy and then create replacement', 'create,delete': '+/- create replacement and then destroy', read: ' <= read (data resources)' };
const READ_REASON = { read_because_config_unknown: 'config refers to values not yet known', read_because_check_nested: 'config will be reloaded to verify a check block' };

/** The human-readable plan, close to terraform's (values printed as terraform prints them). */
export function renderPlanText(changes, outputs = {}, errored = false) {
  const shown = changes.filter((c) => c.actions[0] !== 'no-op' || c.previous_address || c.importing);
  const outputLines = renderOutputChanges(outputs);
  if (!shown.length && !outputLines.length && !errored) {
    return '\nNo changes. Your infrastructure matches the configuration.\n\nTerraform has compared your real infrastructure against your configuration\nand found no differences, so no changes are needed.\n';
  }
  const lines = [];
  const kinds = new Set(shown.map((c) => c.actions.join(',')));
  if (shown.some((c) => c.actions[0] !== 'no-op')) {
    lines.push('', 'Terraform used the selected providers to generate the following execution', 'plan. Resource actions are indicated with the following symbols:');
    for (const k of ['create', 'update', 'delete', 'delete,create', 'create,delete', 'read']) if (kinds.has(k)) lines.push(LEGEND[k]);
  }
  if (shown.length) lines.push('', errored ? 'Terraform planned the following actions, but then encountered a problem:' : 'Terraform will perform the following actions:', '');
  for (const c of shown) lines.push(...renderChange(c), '');
  if (shown.length || !outputLines.length) {
    const n = countChanges(changes);
    lines.push(`Plan: ${n.import ? `${n.import} to import, ` : ''}${n.add} to add, ${n.change} to change, ${n.destroy} to destroy.`);
  }
  const forgotten = shown.filter((c) => c.actions[0] === 'forget');
  if (forgotten.length) {
    lines.push('', 'Warning: Some objects will no longer be managed by Terraform', '', 'If you apply this plan, Terraform will discard its tracking information for', 'the following objects, but it will not delete them:', ...forgotten.map((c) => ` - ${c.address}`), '', 'After applying this plan, Terraform will no longer manage these objects. You', 'will need to import them into Terraform to manage them again.');
  }
  if (outputLines.length) lines.push('', 'Changes to Outputs:', ...outputLines);
  if (!shown.length && outputLines.length) lines.push('', 'You can apply this plan to save these new output values to the Terraform', 'state, without changing any real infrastructure.');
  return lines.join('\n') + '\n';
}

function renderChange(c) {
  const k = c.actions.join(',');
  const sens = new Set(c.sensitive);
  const lines = [];
  if (c.previous_address && k === 'no-op') lines.push(`  # ${c.previous_address} has moved to ${c.address}`);
  else if (c.importing && k === 'no-op') lines.push(`  # ${c.address} will be imported`);
  else {
    lines.push(`  # ${c.address} ${PHRASE[k]}`);
    if (c.previous_address) lines.push(`  # (moved from ${c.previous_address})`);
    if (c.importing) lines.push(`  # (imported from "${c.importing.id}")`);
  }
  if (k === 'forget') lines[lines.length - 1] = ` # ${c.address} ${PHRASE[k]}`;
  if (k === 'forget') lines.push(' # (destroy = false is set in the configuration)');
  if (k === 'delete' && c.action_reason === 'delete_because_no_resource_config') lines.push(`  # (because ${c.address} is not in configuration)`);
  if (k === 'read') lines.push(`  # (${READ_REASON[c.action_reason] ?? 'data'})`);
  const kind = c.mode === 'data' ? 'data' : 'resource';
  lines.push(`${k === 'forget' ? ' .' : SYMBOL[k].padStart(3)} ${kind} "${c.type}" "${c.name}" {`);
  const show = (name, v) => (sens.has(name) ? '(sensitive value)' : renderValue(v));
  const change = (name, before, after, tail = '') => (sens.has(name) ? ['~', name, `(sensitive value)${tail}`] : ['~', name, `${renderValue(before)} -> ${renderValue(after)}${tail}`]);
  const attrs = [];
  if (k === 'read') {
    attrs.push(['+', 'backend', renderValue(c.after.backend)], ['+', 'config', '(known after apply)'], ['+', 'outputs', '(known after apply)']);
  } else if (k === 'create') {
    attrs.push(['+', 'id', '(known after apply)'], ['+', 'input', show('input', c.after.input)], ['+', 'output', '(known after apply)']);
    if (c.after.triggers_replace !== null) attrs.push(['+', 'triggers_replace', show('triggers_replace', c.after.triggers_replace)]);
  } else if (k === 'delete') {
    for (const [n, v] of Object.entries(c.before)) if (v !== null) attrs.push(['-', n, `${show(n, v)} -> null`]);
  } else if (k === 'update') {
    // terraform prints `output` as the state holds it, even when `input` is sensitive
    attrs.push([' ', 'id', renderValue(c.before.id)], change('input', c.before.input, c.after.input), ['~', 'output', `${renderValue(c.before.output)} -> (known after apply)`]);
  } else if (k === 'forget' || k === 'no-op') {
    attrs.push([' ', 'id', renderValue(c.before.id)]);
  } else {
    attrs.push(['~', 'id', `${renderValue(c.before.id)} -> (known after apply)`], ['~', 'output', `${renderValue(c.before.output)} -> (known after apply)`], change('triggers_replace', c.before.triggers_replace, c.after.triggers_replace, k === 'delete,create' ? ' # forces replacement' : ''));
  }
  const width = Math.max(...attrs.map((a) => a[1].length));
  for (const [s, n, v] of attrs) lines.push(`      ${s} ${n.padEnd(width)} = ${v}`);
  lines.push('    }');
  return lines;
}

function renderOutputChanges(outputs) {
  const entries = Object.entries(outputs).filter(([, o]) => o.actions[0] !== 'no-op');
  const width = Math.max(0, ...entries.map(([n]) => n.length));
  return entries.map(([name, o]) => {
    const a = o.actions[0];
    const after = o.after_unknown ? '(known after apply)' : o.after_sensitive ? '(sensitive value)' : renderValue(o.after);
    const before = o.before_sensitive ? '(sensitive value)' : renderValue(o.before);
    const value = a === 'create' ? after : a === 'delete' ? `${before} -> null` : `${before} -> ${after}`;
    return `  ${a === 'create' ? '+' : a === 'delete' ? '-' : '~'} ${name.padEnd(width)} = ${value}`;
  });
}
