// Reading a tree's Terraform/OpenTofu configuration files into one shape, whether they are native HCL
// (`*.tf`, `*.tofu`, parsed by hcl2json) or JSON (`*.tf.json`, `*.tofu.json`), and listing their blocks
// with the addresses the guard's reasons name.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseHcl } from './hcl-parser.ts';
import type { GuardViolation } from './guard.ts';

export interface ConfigFile {
  /** Repository-relative, `/`-separated. */
  file: string;
  /** The module directory the file belongs to ('' for the repository root). */
  dir: string;
  body: Record<string, unknown>;
}

export interface Block {
  file: string;
  dir: string;
  kind: string;
  labels: string[];
  /** How reasons name the block: `resource.aws_instance.web` is shown as `aws_instance.web`, etc. */
  address: string;
  body: Record<string, unknown>;
}

const CONFIG_FILE = /\.(tf|tofu)(\.json)?$/;
// Directories whose contents the file-name rules already refuse, and which the engine never reads as config.
const SKIPPED_DIRS = new Set(['.terraform', 'terraform.d', '.git']);

/**
 * Every configuration file under `root` (or, with `dirs`, directly inside those root-relative directories),
 * parsed; a file that does not parse becomes a `parse-error`.
 */
export async function loadConfigFiles(root: string, dirs?: string[]): Promise<{ files: ConfigFile[]; violations: GuardViolation[] }> {
  const files: ConfigFile[] = [];
  const violations: GuardViolation[] = [];
  const listed = dirs === undefined ? await listConfigFiles(root) : (await Promise.all(dirs.map((d) => listDirConfigFiles(root, d)))).flat();
  for (const rel of listed) {
    const text = await readFile(path.join(root, ...rel.split('/')), 'utf8');
    const dir = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    try {
      const body = rel.endsWith('.json') ? parseJsonConfig(text) : await parseHcl(rel, text);
      files.push({ file: rel, dir, body });
    } catch (err) {
      violations.push({ rule: 'parse-error', file: rel, message: `cannot be parsed: ${(err as Error).message}` });
    }
  }
  return { files, violations };
}

async function listConfigFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(dir: string, rel: string): Promise<void> {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) await walk(path.join(dir, entry.name), child);
      } else if (entry.isFile() && CONFIG_FILE.test(entry.name)) {
        found.push(child);
      }
    }
  }
  await walk(root, '');
  return found;
}

async function listDirConfigFiles(root: string, dir: string): Promise<string[]> {
  const entries = await readdir(path.join(root, ...dir.split('/')), { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && CONFIG_FILE.test(e.name))
    .map((e) => (dir === '' ? e.name : `${dir}/${e.name}`))
    .sort();
}

function parseJsonConfig(text: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  if (!isObject(value)) throw new Error('a JSON configuration file must hold one object');
  return value;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The bodies a block value stands for: hcl2json writes a list per block, JSON syntax allows either. */
export function bodiesOf(value: unknown): Array<Record<string, unknown>> {
  if (Array.isArray(value)) return value.flatMap(bodiesOf);
  return isObject(value) ? [value] : [];
}

const LABELS: Record<string, number> = {
  resource: 2,
  data: 2,
  ephemeral: 2,
  module: 1,
  provider: 1,
  variable: 1,
  output: 1,
  check: 1,
};

/** Every top-level block of a file, plus the `data` blocks nested in `check` blocks. */
export function blocksOf(file: ConfigFile): Block[] {
  const blocks: Block[] = [];
  for (const [kind, value] of Object.entries(file.body)) {
    if (kind === '//') continue;
    for (const { labels, body } of labelled(value, LABELS[kind] ?? 0)) {
      const block = { file: file.file, dir: file.dir, kind, labels, address: addressOf(kind, labels, body), body };
      blocks.push(block);
      if (kind === 'check') {
        for (const { labels: inner, body: innerBody } of labelled(body['data'], 2)) {
          blocks.push({ ...block, kind: 'data', labels: inner, address: `${block.address}.${addressOf('data', inner)}`, body: innerBody });
        }
      }
    }
  }
  return blocks;
}

function labelled(value: unknown, depth: number): Array<{ labels: string[]; body: Record<string, unknown> }> {
  if (depth === 0) return bodiesOf(value).map((body) => ({ labels: [], body }));
  if (Array.isArray(value)) return value.flatMap((v) => labelled(v, depth));
  if (!isObject(value)) return [];
  return Object.entries(value)
    .filter(([label]) => label !== '//')
    .flatMap(([label, inner]) => labelled(inner, depth - 1).map((b) => ({ labels: [label, ...b.labels], body: b.body })));
}

function addressOf(kind: string, labels: string[], body: Record<string, unknown> = {}): string {
  if (kind === 'resource') return labels.join('.');
  // import, moved and removed blocks have no labels: they are named by what they act on.
  const target = kind === 'import' ? body['to'] : kind === 'moved' || kind === 'removed' ? body['from'] : undefined;
  if (typeof target === 'string') return `${kind} ${target.replace(/^\$\{|\}$/g, '')}`;
  if (kind === 'variable') return `var.${labels[0]}`;
  if (kind === 'locals') return 'locals';
  return [kind, ...labels].join('.');
}

/** A string attribute's literal value, or undefined when it is missing or an expression. */
export function literalString(value: unknown): string | undefined {
  return typeof value === 'string' && !value.includes('${') && !value.includes('%{') ? value : undefined;
}
