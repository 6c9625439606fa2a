// Guard: static checks on the exported tree before any engine process exists. Planning runs the pull
// request's code (providers, `data "external"`, file reads), so whatever could act on the runner host is
// refused here, with the rule id, the file and the block address. File-name rules live in this file; the
// HCL rules (blocks, providers, modules, file functions) each have their own file.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { AirlockError } from '../errors.ts';
import { visibleText } from '../plan/untrusted-text.ts';
import { findBlockViolations } from './block-rules.ts';
import { guardSchema, type GuardConfig } from './config.ts';
import { findFileFunctionViolations } from './file-function-rules.ts';
import { findModuleViolations } from './module-rules.ts';
import { DEFAULT_REGISTRY, findProviderViolations } from './provider-rules.ts';
import { blocksOf, loadConfigFiles } from './terraform-files.ts';

export interface GuardViolation {
  /** A stable rule id, e.g. `external-data`. */
  rule: string;
  /** Repository-relative path of the file. */
  file: string;
  /** The block the rule matched, e.g. `data.external.x` or `module.vpc`. */
  address?: string;
  message: string;
}

export interface GuardOptions {
  config: GuardConfig;
  engineKind: 'terraform' | 'tofu';
  /** The workspace directory inside the tree (the root module): relative file() paths resolve against it. */
  workDir: string;
}

export interface GuardResult {
  /** Findings that lenient mode lets through; they travel with the run as reasons. */
  warnings: GuardViolation[];
}

// Files that would change how the engine itself behaves, rather than what it plans.
const FILE_RULES: Array<{ rule: string; test: (name: string, isDir: boolean) => boolean; why: string }> = [
  { rule: 'committed-terraform-dir', test: (n, d) => d && n === '.terraform', why: 'a committed .terraform/ directory can carry providers and modules' },
  { rule: 'implied-plugin-mirror', test: (n, d) => d && n === 'terraform.d', why: 'terraform.d/ acts as an implied provider mirror' },
  { rule: 'cli-config', test: (n) => n === '.terraformrc' || n === 'terraform.rc' || n === '.tofurc' || n === 'tofu.rc', why: 'a CLI config file can redirect provider installation' },
  { rule: 'committed-state', test: (n) => n.endsWith('.tfstate') || n.endsWith('.tfstate.backup'), why: 'state comes from the runner\'s pinned backend, never from the repo' },
  { rule: 'override-file', test: (n) => /(^|_)override\.(tf|tofu)(\.json)?$/.test(n), why: 'override files can replace the runner\'s pinned backend' },
];

/** Every file-level violation in `root`, in path order. */
export async function findGuardViolations(root: string): Promise<GuardViolation[]> {
  const found: GuardViolation[] = [];
  async function walk(dir: string): Promise<void> {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const rel = path.relative(root, path.join(dir, entry.name)).split(path.sep).join('/');
      const rule = FILE_RULES.find((r) => r.test(entry.name, entry.isDirectory()));
      if (rule) found.push({ rule: rule.rule, file: rel, message: rule.why });
      else if (entry.isDirectory()) await walk(path.join(dir, entry.name));
    }
  }
  await walk(root);
  return found;
}

/** Every violation of the tree: file names first, then what the configuration files say. */
export async function inspectTree(root: string, options: GuardOptions): Promise<{ refusals: GuardViolation[]; warnings: GuardViolation[] }> {
  const resolved = path.resolve(root);
  const refusals = await findGuardViolations(resolved);
  const { files, violations } = await loadConfigFiles(resolved);
  refusals.push(...violations);
  const blocks = files.flatMap(blocksOf);
  const registry = DEFAULT_REGISTRY[options.engineKind];
  refusals.push(...findBlockViolations(blocks));
  refusals.push(...findProviderViolations(blocks, options.config.providers, registry));
  refusals.push(...findModuleViolations(blocks, options.config.modules, registry, resolved));
  const fileReads = await findFileFunctionViolations(files, resolved, normalizeDir(options.workDir));
  if (options.config.mode === 'strict') refusals.push(...fileReads);
  return { refusals, warnings: options.config.mode === 'strict' ? [] : fileReads };
}

/** One violation as a line for the audit log, `airlock show` and the pull request. */
export function describeViolation(v: GuardViolation): string {
  return `[${v.rule}] ${visibleText(v.file, 200)}${v.address ? ` ${visibleText(v.address, 200)}` : ''}: ${visibleText(v.message, 400)}`;
}

export class GuardRefusedError extends AirlockError {
  readonly violations: GuardViolation[];

  constructor(violations: GuardViolation[]) {
    super('airlock:guard-refused', `refused before planning: ${violations.map(describeViolation).join('; ')}`, {
      hint: 'Change the pull request so it passes the listed rules; providers, modules and file access are allowed only by the runner config (guard section).',
    });
    this.violations = violations;
  }
}

const DEFAULT_OPTIONS: GuardOptions = { config: guardSchema.parse(undefined), engineKind: 'terraform', workDir: '.' };

/** Throw GuardRefusedError when the tree must not be planned; otherwise return the lenient-mode warnings. */
export async function guardTree(root: string, options: GuardOptions = DEFAULT_OPTIONS): Promise<GuardResult> {
  const { refusals, warnings } = await inspectTree(root, options);
  if (refusals.length > 0) throw new GuardRefusedError(refusals);
  return { warnings };
}

function normalizeDir(dir: string): string {
  const normalized = path.posix.normalize(dir.split(path.sep).join('/'));
  return normalized === '.' ? '' : normalized.replace(/\/$/, '');
}
