// Loads a root module's *.tf and *.tf.json files into the small model the double supports, merging
// override files the way terraform does (override.tf, *_override.tf, and their .json forms are applied
// after every primary file, in lexical order), and expands resources into instances.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HclError, parseHcl } from './hcl.mjs';

export const PROVIDER = 'terraform.io/builtin/terraform';
const RESOURCE_ARGS = new Set(['input', 'triggers_replace', 'count', 'for_each']);

const isOverride = (f) => /(^|_)override\.tf(\.json)?$/.test(f);

/** Read and merge the configuration in `dir`. Throws HclError on anything outside the subset. */
export function loadConfig(dir) {
  const files = readdirSync(dir)
    .filter((f) => (f.endsWith('.tf') || f.endsWith('.tf.json')) && !f.startsWith('.'))
    .sort();
  const primary = files.filter((f) => !isOverride(f));
  const overrides = files.filter(isOverride);
  const model = { backend: null, resources: new Map(), variables: new Map(), files };
  for (const f of primary) mergeFile(model, f, readBody(dir, f), false);
  for (const f of overrides) mergeFile(model, f, readBody(dir, f), true);
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
            for (const one of [rb].flat()) body.blocks.push({ type: key, labels: [type, name], body: jsonAttrs(one, file), line: 1 });
          }
        }
      } else if (key === 'variable') {
        for (const [name, vb] of Object.entries(v)) {
          const b = jsonAttrs(vb, file);
          const t = b.attributes.find((a) => a.name === 'type');
          if (t && t.expr.kind === 'literal') t.expr = { kind: 'ref', parts: [t.expr.value], text: t.expr.value };
          body.blocks.push({ type: 'variable', labels: [name], body: b, line: 1 });
        }
      } else {
        body.blocks.push({ type: key, labels: [], body: { attributes: [], blocks: [] }, line: 1 });
      }
    }
  }
  return body;
}

function jsonAttrs(obj, file) {
  return { attributes: Object.entries(obj ?? {}).map(([name, v]) => ({ name, expr: jsonExpr(v, file), line: 1 })), blocks: [] };
}

function jsonExpr(v, file) {
  if (typeof v === 'string') {
    const ref = /^\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}$/.exec(v);
    if (ref) return { kind: 'ref', parts: ref[1].split('.'), text: ref[1] };
    if (v.includes('${')) throw new HclError('Unsupported expression', 'The Airlock terraform double does not evaluate string templates ("${...}").', file, 1);
  }
  return { kind: 'literal', value: v };
}

function mergeFile(model, file, body, override) {
  for (const a of body.attributes) throw new HclError('Unsupported argument', `An argument named "${a.name}" is not expected here.`, file, a.line);
  for (const block of body.blocks) {
    const where = `${file} line ${block.line}`;
    if (block.type === 'terraform') mergeTerraformBlock(model, file, block, override);
    else if (block.type === 'resource') {
      const [type, name] = block.labels;
      if (type !== 'terraform_data') throw providerError(type, file, block.line);
      const key = `${type}.${name}`;
      const attrs = Object.fromEntries(block.body.attributes.map((a) => [a.name, a.expr]));
      for (const a of block.body.attributes) {
        if (!RESOURCE_ARGS.has(a.name)) throw new HclError('Unsupported argument', `An argument named "${a.name}" is not expected here.`, file, a.line);
      }
      for (const b of block.body.blocks) throw new HclError('Unsupported block type', `Blocks of type "${b.type}" are not supported by the Airlock terraform double.`, file, b.line);
      const existing = model.resources.get(key);
      if (override) {
        if (!existing) throw new HclError('Missing base resource for override', `There is no terraform_data resource named "${name}". An override file can only override a resource block defined in a primary configuration file.`, file, block.line);
        Object.assign(existing.attrs, attrs);
      } else {
        if (existing) throw new HclError(`Duplicate resource "terraform_data" configuration`, `A terraform_data resource named "${name}" was already declared at ${existing.where}. Resource names must be unique per type in each module.`, file, block.line);
        model.resources.set(key, { type, name, attrs, where });
      }
    } else if (block.type === 'variable') {
      const [name] = block.labels;
      const attrs = Object.fromEntries(block.body.attributes.map((a) => [a.name, a.expr]));
      const existing = model.variables.get(name);
      if (override && existing) Object.assign(existing.attrs, attrs);
      else if (existing) throw new HclError('Duplicate variable declaration', `A variable named "${name}" was already declared at ${existing.where}.`, file, block.line);
      else model.variables.set(name, { name, attrs, where });
    } else {
      throw new HclError('Unsupported block type', `Blocks of type "${block.type}" are not supported by the Airlock terraform double (it models terraform_data resources and variables only).`, file, block.line);
    }
  }
}

function mergeTerraformBlock(model, file, block, override) {
  for (const b of block.body.blocks) {
    if (b.type === 'required_providers') continue;
    if (b.type === 'cloud') throw new HclError('Unsupported block type', 'The Airlock terraform double does not model HCP Terraform ("cloud" blocks).', file, b.line);
    if (b.type !== 'backend') throw new HclError('Unsupported block type', `Blocks of type "${b.type}" are not expected here.`, file, b.line);
    const [type] = b.labels;
    if (type !== 'local') throw new HclError(`Unsupported backend type`, `The Airlock terraform double supports only the "local" backend, not "${type}".`, file, b.line);
    const pathAttr = b.body.attributes.find((a) => a.name === 'path');
    for (const a of b.body.attributes) {
      if (a.name !== 'path' && a.name !== 'workspace_dir') throw new HclError('Unsupported argument', `An argument named "${a.name}" is not expected here.`, file, a.line);
    }
    if (pathAttr && (pathAttr.expr.kind !== 'literal' || typeof pathAttr.expr.value !== 'string')) {
      throw new HclError('Invalid backend configuration', 'The "path" argument must be a literal string.', file, pathAttr.line);
    }
    if (model.backend && !override) throw new HclError('Duplicate backend configuration', `A module may have only one backend configuration. The backend was previously configured at ${model.backend.where}.`, file, b.line);
    // An override backend block replaces the whole backend, as in terraform.
    model.backend = { type, path: pathAttr ? pathAttr.expr.value : 'terraform.tfstate', where: `${file} line ${b.line}` };
  }
}

function providerError(type, file, line) {
  const provider = String(type).split('_')[0];
  return new HclError(
    'Failed to query available provider packages',
    `Could not retrieve the list of available versions for provider hashicorp/${provider}: the Airlock terraform double only has the built-in provider terraform.io/builtin/terraform (resource type "terraform_data"), not "${type}".`,
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
    out[name] = { value, sensitive, declared: v };
  }
  return out;
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

/** Evaluate an expression: returns {value, sensitive}. */
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
      if (expr.name === 'toset') return { value: { __set: [...new Set(arg.value.map(String))].sort() }, sensitive: arg.sensitive };
      return arg;
    }
    case 'ref': {
      const [root, attr] = expr.parts;
      if (root === 'var') {
        const v = ctx.vars[attr];
        if (!v) throw new HclError('Reference to undeclared input variable', `An input variable with the name "${attr}" has not been declared.`, '', 0);
        return { value: v.value, sensitive: v.sensitive };
      }
      if (root === 'each' && ctx.each && (attr === 'key' || attr === 'value')) return { value: ctx.each[attr], sensitive: false };
      if (root === 'count' && attr === 'index' && ctx.countIndex !== undefined) return { value: ctx.countIndex, sensitive: false };
      throw new HclError('Unsupported expression', `The Airlock terraform double cannot evaluate the reference "${expr.text}".`, '', 0);
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
  const root = {};
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
  if (refs.length) return { references: refs };
  const v = evalExpr(expr, { vars: {} }).value;
  return { constant_value: v && Array.isArray(v.__set) ? v.__set : v };
}
