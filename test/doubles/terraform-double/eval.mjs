// Evaluating the configuration: variables (from TF_VAR_* or defaults, with their validations), the
// expressions the double understands (UNKNOWN stands for a value known only after apply), conditions, and
// the expansion of resources into instances.

import { HclError, parseHcl } from './hcl.mjs';

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
