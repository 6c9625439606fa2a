// A tiny parser for the HCL subset the terraform double understands: blocks, attributes, and literal
// expressions (strings without interpolation, numbers, bools, null, tuples, objects), plus bare
// traversals (var.x, each.value, count.index) and calls (toset(...)) which config.mjs evaluates.
// Anything else is refused with a terraform-shaped diagnostic rather than guessed at.

export class HclError extends Error {
  constructor(summary, detail, file, line) {
    super(summary);
    this.summary = summary;
    this.detail = detail;
    this.file = file;
    this.line = line;
  }
}

const PUNCT = new Set(['{', '}', '[', ']', '(', ')', '=', ',', ':', '.', '?', '+', '*', '/', '%', '!', '<', '>', '&', '|']);

function tokenize(src, file) {
  const toks = [];
  let i = 0;
  let line = 1;
  const push = (type, value) => toks.push({ type, value, line });
  while (i < src.length) {
    const c = src[i];
    if (c === '\n') { push('nl'); line++; i++; continue; }
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    if (c === '#' || (c === '/' && src[i + 1] === '/')) {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new HclError('Unterminated comment', 'A block comment was not closed.', file, line);
      for (let k = i; k < end; k++) if (src[k] === '\n') line++;
      i = end + 2;
      continue;
    }
    if (c === '"') {
      let out = '';
      i++;
      for (;;) {
        const d = src[i];
        if (d === undefined || d === '\n') throw new HclError('Unterminated template string', 'No closing marker was found for the string.', file, line);
        if (d === '"') { i++; break; }
        if ((d === '$' || d === '%') && src[i + 1] === '{') {
          throw new HclError('Unsupported expression', 'The Airlock terraform double does not evaluate string templates ("${...}").', file, line);
        }
        if ((d === '$' || d === '%') && src[i + 1] === d && src[i + 2] === '{') { out += d + '{'; i += 3; continue; }
        if (d === '\\') {
          const e = src[i + 1];
          const map = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };
          if (e !== undefined && e in map) { out += map[e]; i += 2; continue; }
          if (e === 'u') { out += String.fromCharCode(parseInt(src.slice(i + 2, i + 6), 16)); i += 6; continue; }
          throw new HclError('Invalid escape sequence', `The symbol "${e}" is not a valid escape sequence selector.`, file, line);
        }
        out += d;
        i++;
      }
      push('string', out);
      continue;
    }
    if (c === '<' && src[i + 1] === '<') {
      const m = /^<<(-?)([A-Za-z_][A-Za-z0-9_]*)\r?\n/.exec(src.slice(i));
      if (!m) throw new HclError('Invalid heredoc', 'Expected a heredoc marker such as <<EOT.', file, line);
      const startLine = line;
      i += m[0].length;
      line++;
      const lines = [];
      for (;;) {
        if (i >= src.length) throw new HclError('Unterminated template string', `No closing marker ${m[2]} was found.`, file, startLine);
        let end = src.indexOf('\n', i);
        if (end < 0) end = src.length;
        const text = src.slice(i, end).replace(/\r$/, '');
        i = end + 1;
        line++;
        if (text.trim() === m[2]) break;
        if (text.includes('${') || text.includes('%{')) {
          throw new HclError('Unsupported expression', 'The Airlock terraform double does not evaluate heredoc templates.', file, line - 1);
        }
        lines.push(text);
      }
      let body = lines;
      if (m[1] === '-') {
        const indents = lines.filter((l) => l.trim() !== '').map((l) => /^[ \t]*/.exec(l)[0].length);
        const cut = indents.length ? Math.min(...indents) : 0;
        body = lines.map((l) => l.slice(cut));
      }
      push('string', body.map((l) => l + '\n').join(''));
      // the newline that ended the closing marker still separates attributes
      toks.push({ type: 'nl', line: line - 1 });
      continue;
    }
    const num = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(src.slice(i, i + 64));
    if (num) { push('number', Number(num[0])); i += num[0].length; continue; }
    const ident = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i, i + 256));
    if (ident) { push('ident', ident[0]); i += ident[0].length; continue; }
    if (c === '-') { push('-'); i++; continue; }
    if (PUNCT.has(c)) { push(c); i++; continue; }
    throw new HclError('Invalid character', `This character is not used within the language: ${JSON.stringify(c)}.`, file, line);
  }
  push('eof');
  return toks;
}

/** Parse HCL source into { attributes: [{name, expr, line}], blocks: [{type, labels, body, line}] }. */
export function parseHcl(src, file) {
  const toks = tokenize(src, file);
  let p = 0;
  const peek = () => toks[p];
  const next = () => toks[p++];
  const fail = (summary, detail, tok = peek()) => { throw new HclError(summary, detail, file, tok.line); };
  const skipNl = () => { while (peek().type === 'nl') p++; };
  const expect = (type) => {
    const t = next();
    if (t.type !== type) fail('Argument or block definition required', `Expected ${JSON.stringify(type)}, found ${t.type === 'nl' ? 'a newline' : JSON.stringify(t.value ?? t.type)}.`, t);
    return t;
  };

  function parseBody(closing) {
    const body = { attributes: [], blocks: [] };
    for (;;) {
      skipNl();
      const t = peek();
      if (t.type === closing) { p++; return body; }
      if (t.type !== 'ident') fail('Argument or block definition required', 'An argument or block definition is required here.');
      p++;
      if (peek().type === '=') {
        p++;
        const expr = parseExpr();
        body.attributes.push({ name: t.value, expr, line: t.line });
      } else {
        const labels = [];
        while (peek().type === 'string' || peek().type === 'ident') labels.push(next().value);
        expect('{');
        body.blocks.push({ type: t.value, labels, body: parseBody('}'), line: t.line });
      }
      const end = peek().type;
      if (end !== 'nl' && end !== 'eof' && end !== closing) fail('Missing newline after argument', 'An argument definition must end with a newline.');
    }
  }

  function parseExpr() {
    const t = next();
    let expr;
    if (t.type === 'string' || t.type === 'number') expr = { kind: 'literal', value: t.value };
    else if (t.type === '-' && peek().type === 'number') expr = { kind: 'literal', value: -next().value };
    else if (t.type === '[') expr = parseTuple();
    else if (t.type === '{') expr = parseObject();
    else if (t.type === 'ident') {
      if (t.value === 'true' || t.value === 'false') expr = { kind: 'literal', value: t.value === 'true' };
      else if (t.value === 'null') expr = { kind: 'literal', value: null };
      else if (peek().type === '(') { p++; expr = { kind: 'call', name: t.value, args: parseList(')') }; }
      else {
        const parts = [t.value];
        while (peek().type === '.' || peek().type === '[') {
          if (next().type === '.') parts.push(expect('ident').value);
          else { const k = next(); parts.push(k.value); expect(']'); }
        }
        expr = { kind: 'ref', parts, text: parts.join('.') };
      }
    } else fail('Invalid expression', 'Expected the start of an expression.', t);
    // equality (`a == b`, `a != b`) is the one operator modelled, for conditions
    if ((peek().type === '=' || peek().type === '!') && toks[p + 1]?.type === '=') {
      const op = next().type === '=' ? '==' : '!=';
      p++;
      return { kind: 'binary', op, left: expr, right: parseExpr() };
    }
    const after = peek().type;
    if (['?', '+', '-', '*', '/', '%', '!', '<', '>', '&', '|'].includes(after)) {
      fail('Unsupported expression', 'The Airlock terraform double supports literal values, var.*, each.*, count.index, resource attributes, == / != and toset() only.');
    }
    return expr;
  }

  function parseList(close) {
    const items = [];
    for (;;) {
      skipNl();
      if (peek().type === close) { p++; return items; }
      items.push(parseExpr());
      skipNl();
      if (peek().type === ',') p++;
      else if (peek().type !== close) fail('Missing item separator', 'Expected a comma to mark the beginning of the next item.');
    }
  }

  function parseTuple() {
    return { kind: 'tuple', items: parseList(']') };
  }

  function parseObject() {
    const entries = [];
    for (;;) {
      skipNl();
      if (peek().type === '}') { p++; return { kind: 'object', entries }; }
      const k = next();
      if (k.type !== 'ident' && k.type !== 'string' && k.type !== 'number') fail('Invalid object key', 'Object keys must be names or quoted strings in this double.', k);
      const sep = next();
      if (sep.type !== '=' && sep.type !== ':') fail('Missing key/value separator', 'Expected an equals sign ("=") to mark the beginning of the attribute value.', sep);
      entries.push([String(k.value), parseExpr()]);
      if (peek().type === ',') p++;
      else if (peek().type !== 'nl' && peek().type !== '}') fail('Missing attribute separator', 'Expected a newline or comma to mark the beginning of the next attribute.');
    }
  }

  return parseBody('eof');
}
