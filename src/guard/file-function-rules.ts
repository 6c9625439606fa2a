// Guard rules about the functions that read files on the machine running the engine: `file()`,
// `templatefile()` and friends may only read literal paths inside the repository, never a file the runner
// writes into the working directory. A template read by `templatefile()` or rendered by `templatestring()`
// can call them too, so its text is checked the same way.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { GuardViolation } from './guard.ts';
import { parseTemplate, type ExpressionNode } from './hcl-parser.ts';
import { blocksOf, isObject, type ConfigFile } from './terraform-files.ts';

/** Functions that read the filesystem of the host running the engine. */
export const FILE_READERS: ReadonlySet<string> = new Set([
  'file',
  'fileexists',
  'fileset',
  'filebase64',
  'filebase64sha256',
  'filebase64sha512',
  'filemd5',
  'filesha1',
  'filesha256',
  'filesha512',
  'templatefile',
  // Renders a string as a template with the whole function table (OpenTofu, Terraform ≥ 1.9).
  'templatestring',
]);
// A cheap first look: only a template that names one of these can call it.
const MAY_READ = new RegExp(`\\b(${[...FILE_READERS].join('|')})\\b`);
const ANCHORS = new Set(['path.module', 'path.root', 'path.cwd']);

interface Finding {
  file: string;
  address: string;
  message: string;
}

interface Context {
  root: string;
  /** The root module's directory, relative to `root`: relative paths in file() resolve against it. */
  workDir: string;
  findings: Finding[];
}

/** Every file()-family call in the tree whose path is absolute, has "..", or is not a literal. */
export async function findFileFunctionViolations(files: ConfigFile[], root: string, workDir: string): Promise<GuardViolation[]> {
  const ctx: Context = { root, workDir, findings: [] };
  for (const file of files) {
    for (const block of blocksOf(file)) {
      if (block.kind === 'locals') {
        for (const [key, value] of Object.entries(block.body)) await checkValue(ctx, value, file, `local.${key}`, block.dir);
      } else {
        await checkValue(ctx, block.body, file, block.address, block.dir);
      }
    }
  }
  return ctx.findings.map((f) => ({ rule: 'file-function', file: f.file, address: f.address, message: f.message }));
}

async function checkValue(ctx: Context, value: unknown, file: ConfigFile, address: string, dir: string): Promise<void> {
  if (typeof value === 'string') return checkTemplate(ctx, value, file.file, address, dir, false);
  if (Array.isArray(value)) {
    for (const v of value) await checkValue(ctx, v, file, address, dir);
  } else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      await checkTemplate(ctx, k, file.file, address, dir, false);
      await checkValue(ctx, v, file, address, dir);
    }
  }
}

async function checkTemplate(ctx: Context, text: string, file: string, address: string, dir: string, inTemplateFile: boolean): Promise<void> {
  if (!inTemplateFile && !text.includes('${') && !text.includes('%{')) return;
  if (!MAY_READ.test(text)) return;
  let tree: ExpressionNode | null;
  try {
    tree = await parseTemplate(file, text);
  } catch (err) {
    ctx.findings.push({ file, address, message: `an expression that may read files cannot be checked: ${firstLine((err as Error).message)}` });
    return;
  }
  for (const call of functionCalls(tree)) await checkCall(ctx, call, file, address, dir, inTemplateFile);
}

function* functionCalls(node: ExpressionNode | null): Generator<ExpressionNode> {
  if (node === null || typeof node !== 'object') return;
  if (node.type === 'function' && FILE_READERS.has(baseName(node.meta?.name))) yield node;
  for (const child of node.children ?? []) yield* functionCalls(child);
}

function baseName(name: string | undefined): string {
  return (name ?? '').replace(/^core::/, '');
}

async function checkCall(ctx: Context, call: ExpressionNode, file: string, address: string, dir: string, inTemplateFile: boolean): Promise<void> {
  const fn = baseName(call.meta?.name);
  const args = call.children ?? [];
  const report = (what: string): void => void ctx.findings.push({ file, address, message: `${fn}() ${what}` });
  if (call.meta?.expandedFinalArgument === true) return report('takes expanded arguments (...), which cannot be checked');
  if (fn === 'templatestring') {
    const template = literalPath(args[0]);
    const text = template === null || template.anchor !== null ? null : unescapeLiteral(template.text);
    if (text === null) return report('renders a template that is not a literal string, so what it calls cannot be checked');
    return checkTemplate(ctx, text, file, `${address} (templatestring)`, dir, true);
  }
  const target = literalPath(args[0]);
  const problem = pathProblem(target, inTemplateFile);
  if (problem !== null) return report(problem);
  if (fn === 'fileset') {
    const pattern = literalPath(args[1]);
    const patternProblem = pattern === null || pattern.anchor !== null ? 'has a pattern that is not a literal string' : pathProblem(pattern, true);
    if (patternProblem !== null) return report(patternProblem.replace('its path', 'its pattern'));
  }
  if (fn === 'templatefile' && target !== null && !inTemplateFile) {
    const base = target.anchor === 'path.module' ? dir : ctx.workDir;
    const rel = path.posix.normalize(path.posix.join(base, target.text.replace(/^\/+/, '')));
    const text = await readFile(path.join(ctx.root, ...rel.split('/')), 'utf8').catch(() => null);
    // A template that is not in the tree when the guard runs could appear later (init fetches modules).
    if (text === null) return report(`reads the template ${JSON.stringify(rel)}, which is not in the tree, so what it calls cannot be checked`);
    await checkTemplate(ctx, text, file, `${address} (template ${rel})`, dir, true);
  }
}

interface LiteralPath {
  text: string;
  anchor: string | null;
}

/** A path argument as literal text (optionally after `${path.module}`), or null when it is computed. */
function literalPath(node: ExpressionNode | undefined): LiteralPath | null {
  if (node === undefined) return null;
  if (node.type === 'literalValue' && node.meta?.type === 'string') return { text: node.meta.value ?? '', anchor: null };
  if (node.type === 'scopeTraversal') {
    const name = node.meta?.fullAccessor ?? node.meta?.value ?? '';
    return ANCHORS.has(name) ? { text: '', anchor: name } : null;
  }
  if (node.type !== 'template') return null;
  const parts = node.children ?? [];
  let anchor: string | null = null;
  let rest = parts;
  const first = parts[0];
  if (first?.type === 'scopeTraversal') {
    const name = first.meta?.fullAccessor ?? first.meta?.value ?? '';
    if (!ANCHORS.has(name)) return null;
    anchor = name;
    rest = parts.slice(1);
  }
  if (!rest.every((p) => p.type === 'literalValue' && p.meta?.type === 'string')) return null;
  return { text: rest.map((p) => p.meta?.value ?? '').join(''), anchor };
}

function pathProblem(target: LiteralPath | null, inTemplateFile: boolean): string | null {
  if (target === null) return 'reads a path that is not a literal string';
  if (inTemplateFile && target.anchor !== null) return 'reads a path that is not a literal string';
  const { text } = target;
  if (text.includes('\\')) return `reads ${JSON.stringify(text)}: escape sequences are not allowed in its path`;
  if (target.anchor === null && (text.startsWith('/') || text.startsWith('~') || /^[A-Za-z]:/.test(text))) {
    return `reads the absolute path ${JSON.stringify(text)}`;
  }
  if (text.split('/').includes('..')) return `reads ${JSON.stringify(text)}, which contains ".."`;
  const written = runnerWrittenProblem(text);
  if (written !== null) return `reads ${JSON.stringify(text)}: ${written}`;
  return null;
}

/**
 * Files the runner or `init` writes into the working directory: the backend override and `.terraform/`
 * (the initialised backend's config, fetched modules). Reading them would put runner config into the plan.
 */
export function runnerWrittenProblem(relPath: string): string | null {
  const segments = relPath.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('.terraform')) return '.terraform/ is written by the runner and `init` (backend config, fetched code)';
  const last = segments.at(-1) ?? '';
  if (last.startsWith('airlock_')) return 'files named airlock_* are written by the runner (its backend override)';
  return null;
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' };

/** The text an HCL quoted-string literal stands for (the parser reports it as written); null if unsure. */
function unescapeLiteral(raw: string): string | null {
  let bad = false;
  const text = raw
    .replace(/\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)/g, (_m, e: string) => {
      if (e.length > 1) return String.fromCodePoint(parseInt(e.slice(1), 16));
      if (ESCAPES[e] === undefined) bad = true;
      return ESCAPES[e] ?? '';
    })
    .replace(/\$\$\{/g, '${')
    .replace(/%%\{/g, '%{');
  return bad ? null : text;
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.slice(0, 300);
}
