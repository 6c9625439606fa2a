// Loads a root module's *.tf and *.tf.json files into the small model the double supports, merging
// override files the way terraform does (override.tf, *_override.tf, and their .json forms are applied
// after every primary file, in lexical order), and expands resources into instances.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HclError, parseHcl } from './hcl.mjs';

export const PROVIDER = 'terraform.io/builtin/terraform';
const RESOURCE_ARGS = new Set(['input', 'triggers_replace', 'count', 'for_each', 'depends_on']);

const isOverride = (f) => /(^|_)override\.tf(\.json)?$/.test(f);

/** Read and merge the configuration in `dir`. Throws HclError on anything outside the subset. */
export function loadConfig(dir) {
  const files = readdirSync(dir)
    .filter((f) => (f.endsWith('.tf') || f.endsWith('.tf.json')) && !f.startsWith('.'))
    .sort();
  const primary = files.filter((f) => !isOverride(f));
  const overrides = files.filter(isOverride);
  const model = { backend: null, backendBlock: null, resources: new Map(), variables: new Map(), outputs: new Map(), data: new Map(), moved: [], removed: [], imports: [], checks: [], modules: new Map(), files };
  for (const f of primary) mergeFile(model, f, readBody(dir, f), false);
  for (const f of overrides) mergeFile(model, f, readBody(dir, f), true);
  // Only the backend that survives the overrides must be one the double can use (a repo's s3 backend that
  // an override replaces with a local one is fine, as in terraform).
  if (model.backendBlock) model.backend = checkBackend(model.backendBlock);
  return model;
}

function readBody(dir, file) {
  const src = readFileSync(join(dir, file), 'utf8');
  if (!file.endsWith('.json')) return parseHcl(src, file);
  let obj;
  try {
    obj = JSON.parse(src);
  } catch (err) {
    throw new HclError('Invalid JSON', String(err.message), file, 1);
  }
  return jsonRoot(obj, file);
}

// Translate the JSON syntax into the same body shape the HCL parser produces; which keys are
// blocks is decided by position, as terraform's schema would.
function jsonRoot(obj, file) {
  const body = { attributes: [], blocks: [] };
  for (const [key, value] of Object.entries(obj)) {
    for (const v of [value].flat()) {
      if (key === 'terraform') {
        const tf = { attributes: [], blocks: [] };
        for (const [k, kv] of Object.entries(v)) {
          if (k === 'backend' || k === 'cloud' || k === 'required_providers') {
            if (k === 'cloud') tf.blocks.push({ type: 'cloud', labels: [], body: jsonAttrs(kv, file), line: 1 });
            else for (const [label, b] of Object.entries(kv)) tf.blocks.push({ type: k, labels: k === 'backend' ? [label] : [], body: jsonAttrs(b, file), line: 1 });
          } else tf.attributes.push({ name: k, expr: jsonExpr(kv, file), line: 1 });
        }
        body.blocks.push({ type: 'terraform', labels: [], body: tf, line: 1 });
      } else if (key === 'resource' || key === 'data') {
        for (const [type, byName] of Object.entries(v)) {
          for (const [name, rb] of Object.entries(byName)) {
            for (const one of [rb].flat()) body.blocks.push({ type: key, labels: [type, name], body: jsonAttrs(one, file, ['lifecycle']), line: 1 });
          }
        }
      } else if (key === 'variable' || key === 'output' || key === 'module') {
        for (const [name, vb] of Object.entries(v)) {
          const b = jsonAttrs(vb, file, ['validation', 'precondition']);
          const t = b.attributes.find((a) => a.name === 'type');
          if (key === 'variable' && t && t.expr.kind === 'literal') t.expr = { kind: 'ref', parts: [t.expr.value], text: t.expr.value };
          body.blocks.push({ type: key, labels: [name], body: b, line: 1 });
        }
      } else if (key === 'moved' || key === 'removed' || key === 'import') {
        const b = jsonAttrs(v, file, ['lifecycle']);
        for (const a of b.attributes) if ((a.name === 'from' || a.name === 'to') && a.expr.kind === 'literal') a.expr = refOf(String(a.expr.value));
        body.blocks.push({ type: key, labels: [], body: b, line: 1 });
      } else {
        body.blocks.push({ type: key, labels: [], body: { attributes: [], blocks: [] }, line: 1 });
      }
    }
  }
  return body;
}

const refOf = (text) => ({ kind: 'ref', parts: text.split('.'), text });

function jsonAttrs(obj, file, blockNames = []) {
  const body = { attributes: [], blocks: [] };
  for (const [name, v] of Object.entries(obj ?? {})) {
    if (blockNames.includes(name)) for (const b of [v].flat()) body.blocks.push({ type: name, labels: [], body: jsonAttrs(b, file, ['precondition', 'postcondition']), line: 1 });
    else body.attributes.push({ name, expr: jsonExpr(v, file), line: 1 });
  }
  return body;
}

function jsonExpr(v, file) {
  if (typeof v === 'string') {
    const ref = /^\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}$/.exec(v);
    if (ref) return refOf(ref[1]);
    if (v.includes('${')) throw new HclError('Unsupported expression', 'The Airlock terraform double does not evaluate string templates ("${...}").', file, 1);
  }
  return { kind: 'literal', value: v };
}

const attrsOf = (body) => Object.fromEntries(body.attributes.map((a) => [a.name, a.expr]));
const unsupported = (what, file, line) => new HclError('Unsupported block type', `${what} The Airlock terraform double cannot model it (see test/doubles/README.md).`, file, line);

function onlyArgs(body, allowed, file) {
  for (const a of body.attributes) if (!allowed.has(a.name)) throw new HclError('Unsupported argument', `An argument named "${a.name}" is not expected here.`, file, a.line);
}

function mergeFile(model, file, body, override) {
  for (const a of body.attributes) throw new HclError('Unsupported argument', `An argument named "${a.name}" is not expected here.`, file, a.line);
  for (const block of body.blocks) {
    const where = `${file} line ${block.line}`;
    const merge = MERGERS[block.type];
    if (!merge) throw unsupported(`Blocks of type "${block.type}" are not modelled (the double knows terraform_data, terraform_remote_state, variable, output, moved, removed, import, check, module and terraform).`, file, block.line);
    merge(model, { file, block, where, override });
  }
}

const RESOURCE_BLOCKS = new Set(['lifecycle']);
const LIFECYCLE_ARGS = new Set(['create_before_destroy', 'prevent_destroy', 'ignore_changes']);

const MERGERS = {
  terraform: (model, { file, block, override }) => mergeTerraformBlock(model, file, block, override),
  resource: (model, { file, block, where, override }) => {
    const [type, name] = block.labels;
    if (type !== 'terraform_data') throw providerError(type, file, block.line);
    const key = `${type}.${name}`;
    const attrs = attrsOf(block.body);
    onlyArgs(block.body, RESOURCE_ARGS, file);
    const lifecycle = {};
    for (const b of block.body.blocks) {
      if (!RESOURCE_BLOCKS.has(b.type)) throw unsupported(`Blocks of type "${b.type}" in a resource (provisioners, connection) are not modelled.`, file, b.line);
      onlyArgs(b.body, LIFECYCLE_ARGS, file);
      Object.assign(lifecycle, attrsOf(b.body));
      for (const c of b.body.blocks) {
        if (c.type !== 'precondition' && c.type !== 'postcondition') throw unsupported(`Blocks of type "${c.type}" in lifecycle are not modelled.`, file, c.line);
        (lifecycle[c.type] ??= []).push({ ...attrsOf(c.body), where: `${file} line ${c.line}` });
      }
    }
    const existing = model.resources.get(key);
    if (override) {
      if (!existing) throw new HclError('Missing base resource for override', `There is no terraform_data resource named "${name}". An override file can only override a resource block defined in a primary configuration file.`, file, block.line);
      Object.assign(existing.attrs, attrs);
      Object.assign(existing.lifecycle, lifecycle);
    } else {
      if (existing) throw new HclError(`Duplicate resource "terraform_data" configuration`, `A terraform_data resource named "${name}" was already declared at ${existing.where}. Resource names must be unique per type in each module.`, file, block.line);
      model.resources.set(key, { type, name, attrs, lifecycle, where });
    }
  },
  data: (model, { file, block, where }) => {
    const [type, name] = block.labels;
    if (type !== 'terraform_remote_state') throw providerError(type, file, block.line);
    model.data.set(`data.${type}.${name}`, dataSource(block, file, where, null));
  },
  variable: (model, { file, block, where, override }) => {
    const [name] = block.labels;
    const attrs = attrsOf(block.body);
    const validations = block.body.blocks.filter((b) => b.type === 'validation').map((b) => ({ ...attrsOf(b.body), where: `${file} line ${b.line}` }));
    const existing = model.variables.get(name);
    if (override && existing) Object.assign(existing.attrs, attrs);
    else if (existing) throw new HclError('Duplicate variable declaration', `A variable named "${name}" was already declared at ${existing.where}.`, file, block.line);
    else model.variables.set(name, { name, attrs, validations, where });
  },
  output: (model, { file, block, where }) => {
    const [name] = block.labels;
    onlyArgs(block.body, new Set(['value', 'sensitive', 'description', 'depends_on', 'ephemeral']), file);
    const attrs = attrsOf(block.body);
    if (!attrs.value) throw new HclError('Missing required argument', 'The argument "value" is required, but no definition was found.', file, block.line);
    model.outputs.set(name, { name, attrs, where });
  },
  moved: (model, { file, block }) => {
    const { from, to } = attrsOf(block.body);
    model.moved.push({ from: resourceAddress(from, file, block.line), to: resourceAddress(to, file, block.line) });
  },
  removed: (model, { file, block }) => {
    const { from } = attrsOf(block.body);
    const lifecycle = Object.assign({}, ...block.body.blocks.filter((b) => b.type === 'lifecycle').map((b) => attrsOf(b.body)));
    for (const b of block.body.blocks) if (b.type !== 'lifecycle') throw unsupported(`Blocks of type "${b.type}" in a removed block are not modelled.`, file, b.line);
    const destroy = lifecycle.destroy ? evalExpr(lifecycle.destroy, { vars: {} }).value : true;
    model.removed.push({ from: resourceAddress(from, file, block.line), destroy: destroy !== false });
  },
  import: (model, { file, block }) => {
    const attrs = attrsOf(block.body);
    if (attrs.for_each) throw unsupported('An import block with for_each is not modelled.', file, block.line);
    model.imports.push({ to: resourceAddress(attrs.to, file, block.line), id: attrs.id, where: `${file} line ${block.line}` });
  },
  check: (model, { file, block, where }) => {
    const [name] = block.labels;
    const asserts = [];
    for (const b of block.body.blocks) {
      if (b.type === 'data') {
        const [type, dname] = b.labels;
        if (type !== 'terraform_remote_state') throw providerError(type, file, b.line);
        model.data.set(`data.${type}.${dname}`, dataSource(b, file, where, name));
      } else if (b.type === 'assert') asserts.push({ ...attrsOf(b.body), where: `${file} line ${b.line}` });
      else throw unsupported(`Blocks of type "${b.type}" in a check block are not modelled.`, file, b.line);
    }
    model.checks.push({ name, asserts });
  },
  module: (model, { file, block, where }) => {
    const [name] = block.labels;
    const { source } = attrsOf(block.body);
    if (!source || source.kind !== 'literal' || typeof source.value !== 'string') throw new HclError('Invalid module source address', 'The module source address must be a literal string.', file, block.line);
    model.modules.set(name, { name, source: source.value, where });
  },
};

function dataSource(block, file, where, check) {
  const attrs = attrsOf(block.body);
  onlyArgs(block.body, new Set(['backend', 'config', 'defaults', 'workspace', 'depends_on']), file);
  return { type: block.labels[0], name: block.labels[1], attrs, where, check };
}

function resourceAddress(expr, file, line) {
  if (!expr || expr.kind !== 'ref' || expr.parts.length !== 2 || expr.parts[0] !== 'terraform_data') {
    throw unsupported('Only whole terraform_data resources (terraform_data.NAME) can be moved, removed or imported here.', file, line);
  }
  return expr.text;
}

function mergeTerraformBlock(model, file, block, override) {
  for (const b of block.body.blocks) {
    if (b.type === 'required_providers') continue;
    if (b.type === 'cloud') throw new HclError('Unsupported block type', 'The Airlock terraform double does not model HCP Terraform ("cloud" blocks).', file, b.line);
    if (b.type !== 'backend') throw new HclError('Unsupported block type', `Blocks of type "${b.type}" are not expected here.`, file, b.line);
    if (model.backendBlock && !override) throw new HclError('Duplicate backend configuration', `A module may have only one backend configuration. The backend was previously configured at ${model.backendBlock.where}.`, file, b.line);
    // An override backend block replaces the whole backend, as in terraform.
    model.backendBlock = { block: b, file, where: `${file} line ${b.line}` };
  }
}

function checkBackend({ block: b, file, where }) {
  const [type] = b.labels;
  if (type !== 'local') throw new HclError(`Unsupported backend type`, `The Airlock terraform double supports only the "local" backend, not "${type}".`, file, b.line);
  const pathAttr = b.body.attributes.find((a) => a.name === 'path');
  for (const a of b.body.attributes) {
    if (a.name !== 'path' && a.name !== 'workspace_dir') throw new HclError('Unsupported argument', `An argument named "${a.name}" is not expected here.`, file, a.line);
  }
  if (pathAttr && (pathAttr.expr.kind !== 'literal' || typeof pathAttr.expr.value !== 'string')) {
    throw new HclError('Invalid backend configuration', 'The "path" argument must be a literal string.', file, pathAttr.line);
  }
  return { type, path: pathAttr ? pathAttr.expr.value : 'terraform.tfstate', where };
}

function providerError(type, file, line) {
  const provider = String(type).split('_')[0];
  return new HclError(
    'Failed to query available provider packages',
    `Could not retrieve the list of available versions for provider hashicorp/${provider}: the Airlock terraform double only has the built-in provider terraform.io/builtin/terraform (terraform_data, terraform_remote_state), not "${type}".`,
    file,
    line,
  );
}

/** Resolve every declared variable from TF_VAR_* in `env` or its default. */
export function resolveVariables(model, env) {
  const out = {};
  for (const [name, v] of model.variables) {
    const type = v.attrs.type?.kind === 'ref' ? v.attrs.type.text : v.attrs.type?.kind === 'call' ? 'complex' : 'any';
    const sensitive = v.attrs.sensitive?.kind === 'literal' && v.attrs.sensitive.value === true;
    let value;
    const raw = env[`TF_VAR_${name}`];
    if (raw !== undefined) value = convertVar(raw, type, name);
    else if (v.attrs.default) value = evalExpr(v.attrs.default, { vars: {} }).value;
    else {
      throw new HclError('No value for required variable', `The root module input variable "${name}" is not set, and has no default value. Use a -var or -var-file command line argument or an environment variable to provide a value for this variable.`, v.where.split(' line ')[0], Number(v.where.split(' line ')[1]));
    }
    const ephemeral = v.attrs.ephemeral?.kind === 'literal' && v.attrs.ephemeral.value === true;
    out[name] = { value, sensitive, ephemeral, declared: v };
    for (const check of v.validations ?? []) {
      const ok = conditionHolds(check, { vars: out }, 'validation condition');
      if (ok === false) throw new HclError('Invalid value for variable', `${literalMessage(check)}\n\nThis was checked by the validation rule at ${check.where}.`, v.where.split(' line ')[0], Number(v.where.split(' line ')[1]));
    }
  }
  return out;
}

/** Evaluate a condition block's `condition`: true, false, or null when it is unknown until apply. */
export function conditionHolds(check, ctx, what) {
  if (!check.condition) throw new HclError('Missing required argument', 'The argument "condition" is required, but no definition was found.', ...whereOf(check));
  let result;
  try {
    result = evalExpr(check.condition, ctx).value;
  } catch (err) {
    if (!(err instanceof HclError) || err.summary !== 'Unsupported expression') throw err;
    throw new HclError('Unsupported expression', `The Airlock terraform double cannot evaluate this ${what}: it evaluates literals and references only.`, ...whereOf(check));
  }
  if (result === UNKNOWN) return null;
  if (typeof result !== 'boolean') throw new HclError('Invalid condition result', `Invalid ${what} result value: a bool is required.`, ...whereOf(check));
  return result;
}

function whereOf(check) {
  const [file, line] = String(check.where ?? '').split(' line ');
  return [file, Number(line)];
}

/** The `error_message` of a condition block, when it is a literal string. */
export function literalMessage(check) {
  return check.error_message?.kind === 'literal' ? String(check.error_message.value) : 'The condition failed.';
}

function convertVar(raw, type, name) {
  if (type === 'string' || type === 'any') return raw;
  if (type === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || Number.isNaN(n)) throw new HclError('Invalid value for input variable', `The environment variable TF_VAR_${name} does not contain a valid value for variable "${name}": a number is required.`, '', 0);
    return n;
  }
  if (type === 'bool') {
    if (raw !== 'true' && raw !== 'false') throw new HclError('Invalid value for input variable', `The environment variable TF_VAR_${name} does not contain a valid value for variable "${name}": a bool is required.`, '', 0);
    return raw === 'true';
  }
  const body = parseHcl(`v = ${raw}\n`, `TF_VAR_${name}`);
  return evalExpr(body.attributes[0].expr, { vars: {} }).value;
}

/** A value known only after apply. */
export const UNKNOWN = Object.freeze({ __unknown: true });
export const isUnknown = (v) => v === UNKNOWN || (Array.isArray(v) ? v.some(isUnknown) : v !== null && typeof v === 'object' && !v.__set && Object.values(v).some(isUnknown));

/** Evaluate an expression: returns {value, sensitive}; `value` may hold UNKNOWN. */
export function evalExpr(expr, ctx) {
  switch (expr.kind) {
    case 'literal':
      return { value: expr.value, sensitive: false };
    case 'tuple': {
      const items = expr.items.map((e) => evalExpr(e, ctx));
      return { value: items.map((i) => i.value), sensitive: items.some((i) => i.sensitive) };
    }
    case 'object': {
      const entries = expr.entries.map(([k, e]) => [k, evalExpr(e, ctx)]);
      return { value: Object.fromEntries(entries.map(([k, r]) => [k, r.value])), sensitive: entries.some(([, r]) => r.sensitive) };
    }
    case 'call': {
      if (expr.name !== 'toset' && expr.name !== 'tomap' && expr.name !== 'tolist') {
        throw new HclError('Call to unsupported function', `The Airlock terraform double does not implement the function "${expr.name}".`, '', 0);
      }
      const arg = evalExpr(expr.args[0] ?? { kind: 'literal', value: null }, ctx);
      if (expr.name === 'toset' && !isUnknown(arg.value)) return { value: { __set: [...new Set(arg.value.map(String))].sort() }, sensitive: arg.sensitive };
      return arg;
    }
    case 'ref': {
      const [root, attr, field] = expr.parts;
      if (root === 'var') {
        const v = ctx.vars[attr];
        if (!v) throw new HclError('Reference to undeclared input variable', `An input variable with the name "${attr}" has not been declared.`, '', 0);
        return { value: v.value, sensitive: v.sensitive };
      }
      if (root === 'each' && ctx.each && (attr === 'key' || attr === 'value')) return { value: ctx.each[attr], sensitive: false };
      if (root === 'count' && attr === 'index' && ctx.countIndex !== undefined) return { value: ctx.countIndex, sensitive: false };
      if (root === 'terraform_data' && ctx.resources && expr.parts.length === 3) {
        const r = ctx.resources.get(`${root}.${attr}`);
        if (!r) throw new HclError('Reference to undeclared resource', `A managed resource "terraform_data" "${attr}" has not been declared in the root module.`, '', 0);
        if (!(field in r.values)) throw new HclError('Unsupported attribute', `This object has no argument, nested block, or exported attribute named "${field}".`, '', 0);
        return { value: r.values[field], sensitive: r.sensitive.has(field) || (field === 'output' && r.sensitive.has('input')) };
      }
      throw new HclError('Unsupported expression', `The Airlock terraform double cannot evaluate the reference "${expr.text}".`, '', 0);
    }
    case 'binary': {
      const left = evalExpr(expr.left, ctx);
      const right = evalExpr(expr.right, ctx);
      if (isUnknown(left.value) || isUnknown(right.value)) return { value: UNKNOWN, sensitive: left.sensitive || right.sensitive };
      const equal = JSON.stringify(left.value) === JSON.stringify(right.value);
      return { value: expr.op === '==' ? equal : !equal, sensitive: left.sensitive || right.sensitive };
    }
    default:
      throw new HclError('Unsupported expression', `Unknown expression kind ${expr.kind}.`, '', 0);
  }
}

/** Expand resources into instances with evaluated input and triggers_replace. */
export function expandInstances(model, vars) {
  const out = [];
  for (const r of model.resources.values()) {
    const keys = instanceKeys(r, vars);
    for (const k of keys) {
      const ctx = { vars, each: k.each, countIndex: k.countIndex };
      const input = r.attrs.input ? evalExpr(r.attrs.input, ctx) : { value: null, sensitive: false };
      const triggers = r.attrs.triggers_replace ? evalExpr(r.attrs.triggers_replace, ctx) : { value: null, sensitive: false };
      out.push({ type: r.type, name: r.name, index: k.index, address: addressOf(r.type, r.name, k.index), input, triggers });
    }
  }
  return out;
}

function instanceKeys(r, vars) {
  const [file, line] = r.where.split(' line ');
  if (r.attrs.count && r.attrs.for_each) throw new HclError('Invalid combination of "count" and "for_each"', 'The "count" and "for_each" meta-arguments are mutually-exclusive, only one should be used to be explicit about the number of resources to be created.', file, Number(line));
  if (r.attrs.count) {
    const n = evalExpr(r.attrs.count, { vars }).value;
    if (!Number.isInteger(n) || n < 0) throw new HclError('Invalid count argument', 'The given "count" argument value is unsuitable: must be a whole number greater than or equal to zero.', file, Number(line));
    return Array.from({ length: n }, (_, i) => ({ index: i, countIndex: i }));
  }
  if (r.attrs.for_each) {
    const v = evalExpr(r.attrs.for_each, { vars }).value;
    if (v && Array.isArray(v.__set)) return v.__set.map((k) => ({ index: k, each: { key: k, value: k } }));
    if (v && typeof v === 'object' && !Array.isArray(v)) return Object.keys(v).sort().map((k) => ({ index: k, each: { key: k, value: v[k] } }));
    throw new HclError('Invalid for_each argument', `The given "for_each" argument value is unsuitable: the "for_each" argument must be a map, or set of strings, and you have provided a value of type ${Array.isArray(v) ? 'tuple' : typeof v}.`, file, Number(line));
  }
  return [{ index: undefined }];
}

export function addressOf(type, name, index) {
  if (index === undefined || index === null) return `${type}.${name}`;
  return `${type}.${name}[${typeof index === 'number' ? index : JSON.stringify(index)}]`;
}

/** The `configuration` object of `show -json`. */
export function renderConfiguration(model) {
  const resources = [...model.resources.values()]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((r) => {
      const expressions = {};
      for (const k of ['input', 'triggers_replace']) {
        const e = r.attrs[k] && renderExpression(r.attrs[k]);
        if (e) expressions[k] = e;
      }
      const out = { address: `${r.type}.${r.name}`, mode: 'managed', type: r.type, name: r.name, provider_config_key: 'terraform', expressions, schema_version: 0 };
      const count = r.attrs.count && renderExpression(r.attrs.count);
      const forEach = r.attrs.for_each && renderExpression(r.attrs.for_each);
      if (count) out.count_expression = count;
      if (forEach) out.for_each_expression = forEach;
      return out;
    });
  for (const d of model.data.values()) {
    const expressions = {};
    for (const k of ['backend', 'config']) {
      const e = d.attrs[k] && renderExpression(d.attrs[k]);
      if (e) expressions[k] = e;
    }
    resources.push({ address: `data.${d.type}.${d.name}`, mode: 'data', type: d.type, name: d.name, provider_config_key: 'terraform', expressions, schema_version: 0 });
  }
  const root = {};
  if (model.outputs.size) {
    root.outputs = {};
    for (const name of [...model.outputs.keys()].sort()) {
      const o = model.outputs.get(name);
      root.outputs[name] = { expression: renderExpression(o.attrs.value) ?? {}, ...(o.attrs.sensitive?.kind === 'literal' && o.attrs.sensitive.value === true ? { sensitive: true } : {}) };
    }
  }
  if (resources.length) root.resources = resources;
  if (model.variables.size) {
    root.variables = {};
    for (const name of [...model.variables.keys()].sort()) {
      const v = model.variables.get(name);
      const out = {};
      if (v.attrs.default) out.default = evalExpr(v.attrs.default, { vars: {} }).value;
      if (v.attrs.description?.kind === 'literal') out.description = v.attrs.description.value;
      if (v.attrs.sensitive?.kind === 'literal' && v.attrs.sensitive.value === true) out.sensitive = true;
      root.variables[name] = out;
    }
  }
  return { provider_config: { terraform: { name: 'terraform', full_name: PROVIDER } }, root_module: root };
}

function renderExpression(expr) {
  const refs = [];
  const walk = (e) => {
    if (e.kind === 'ref') refs.push(e.text);
    else if (e.kind === 'tuple') e.items.forEach(walk);
    else if (e.kind === 'object') e.entries.forEach(([, v]) => walk(v));
    else if (e.kind === 'call') e.args.forEach(walk);
  };
  walk(expr);
  // terraform gives no constant_value for function calls, even over constants
  if (expr.kind === 'call') return refs.length ? { references: refs } : undefined;
  // a reference to a resource attribute also names the resource (`terraform_data.a.output`, `terraform_data.a`)
  if (refs.length) return { references: refs.flatMap((r) => (r.split('.').length === 3 && !r.startsWith('var.') ? [r, r.split('.').slice(0, 2).join('.')] : [r])) };
  const v = evalExpr(expr, { vars: {} }).value;
  return { constant_value: v && Array.isArray(v.__set) ? v.__set : v };
}
