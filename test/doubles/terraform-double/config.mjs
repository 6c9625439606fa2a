// Loads a root module's *.tf and *.tf.json files into the small model the double supports, merging
// override files the way terraform does (override.tf, *_override.tf, and their .json forms are applied
// after every primary file, in lexical order), and renders the `configuration` object of `show -json`.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evalExpr } from './eval.mjs';
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
