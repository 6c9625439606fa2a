// Guard: static checks on the exported tree before any engine process exists, and again on the modules
// `init` fetched before `plan` runs them. Planning runs the pull request's code (providers,
// `data "external"`, file reads), so whatever could act on the runner host is refused here, with the rule
// id, the file and the block address. File-name rules live in this file; the HCL rules (blocks, providers,
// provider configuration, modules, file functions, variables) each have their own file.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { AirlockError } from '../errors.ts';
import { flaggedText, visibleText } from '../lib/untrusted-text.ts';
import { findBlockViolations } from './block-rules.ts';
import { guardSchema, type GuardConfig } from './config.ts';
import { findFileFunctionViolations } from './file-function-rules.ts';
import { findModuleViolations } from './module-rules.ts';
import { findProviderConfigViolations } from './provider-config-rules.ts';
import { DEFAULT_REGISTRY, findProviderViolations } from './provider-rules.ts';
import { blocksOf, loadConfigFiles, type ConfigFile } from './terraform-files.ts';
import { findEphemeralViolations, findTfvarsViolations } from './variable-rules.ts';

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
  /** Variables the runner sets through TF_VAR_* (engine.env, credentials): committed tfvars may not set them. */
  injectedVariables?: readonly string[];
  /** Variables the apply identity supplies at apply time: the root module must declare them ephemeral. */
  applyTimeVariables?: readonly string[];
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
  // Read by `init` and `test`, never parsed by the guard: tests name modules and providers that init installs.
  { rule: 'test-file', test: (n) => /\.(tftest|tofutest|tfmock|tfquery)\.(hcl|json)$/.test(n), why: 'test, mock and query files make init install modules and providers the guard never checks' },
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

/** Every violation of the tree: file names first, then what the configuration and variable files say. */
export async function inspectTree(root: string, options: GuardOptions): Promise<{ refusals: GuardViolation[]; warnings: GuardViolation[] }> {
  const resolved = path.resolve(root);
  const workDir = normalizeDir(options.workDir);
  const refusals = await findGuardViolations(resolved);
  const { files, violations } = await loadConfigFiles(resolved);
  refusals.push(...violations);
  const found = await inspectFiles(files, resolved, options);
  refusals.push(...found.refusals);
  refusals.push(...(await findTfvarsViolations(resolved, workDir, options.injectedVariables ?? [])));
  refusals.push(...findEphemeralViolations(files.flatMap(blocksOf), workDir, options.applyTimeVariables ?? []));
  return { refusals, warnings: found.warnings };
}

/** The HCL rules over a set of parsed files (the repository's, plus fetched modules after init). */
async function inspectFiles(files: ConfigFile[], root: string, options: GuardOptions): Promise<{ refusals: GuardViolation[]; warnings: GuardViolation[] }> {
  const blocks = files.flatMap(blocksOf);
  const registry = DEFAULT_REGISTRY[options.engineKind];
  const refusals = [
    ...findBlockViolations(blocks, options.config.remoteState),
    ...findProviderViolations(blocks, options.config.providers, registry),
    ...findProviderConfigViolations(blocks, options.config.providers, registry),
    ...findModuleViolations(blocks, options.config.modules, registry, root),
  ];
  const fileReads = await findFileFunctionViolations(files, root, normalizeDir(options.workDir));
  if (options.config.mode === 'strict') refusals.push(...fileReads);
  return { refusals, warnings: options.config.mode === 'strict' ? [] : fileReads };
}

/**
 * After `init`: the module directories it fetched into `.terraform/modules` (from its modules.json), checked
 * with the same rules together with the repository's files, so constraints and allowlists see the whole
 * configuration. Throws GuardRefusedError; returns the lenient-mode warnings of the fetched code.
 */
export async function guardFetchedModules(root: string, options: GuardOptions): Promise<GuardResult> {
  const resolved = path.resolve(root);
  const workDir = normalizeDir(options.workDir);
  const fetched = await fetchedModuleDirs(resolved, workDir);
  if (fetched.length === 0) return { warnings: [] };
  const repo = await loadConfigFiles(resolved);
  const modules = await loadConfigFiles(resolved, fetched);
  const refusals = [...modules.violations];
  const found = await inspectFiles([...repo.files, ...modules.files], resolved, options);
  const isFetched = (v: GuardViolation) => fetched.some((d) => v.file.startsWith(`${d}/`));
  refusals.push(...found.refusals.filter(isFetched));
  if (refusals.length > 0) throw new GuardRefusedError(refusals);
  return { warnings: found.warnings.filter(isFetched) };
}

const MODULES_DIR = '.terraform/modules';

/** Tree-relative directories of the modules `init` fetched, from `.terraform/modules/modules.json`. */
async function fetchedModuleDirs(root: string, workDir: string): Promise<string[]> {
  const at = (rel: string) => (workDir === '' ? rel : `${workDir}/${rel}`);
  const manifest = path.join(root, ...at(`${MODULES_DIR}/modules.json`).split('/'));
  const text = await readFile(manifest, 'utf8').catch(() => null);
  if (text === null) return [];
  let dirs: string[];
  try {
    const parsed = JSON.parse(text) as { Modules?: Array<{ Dir?: unknown }> };
    dirs = (parsed.Modules ?? []).map((m) => (typeof m.Dir === 'string' ? path.posix.normalize(m.Dir) : ''));
  } catch (err) {
    throw new GuardRefusedError([{ rule: 'parse-error', file: at(`${MODULES_DIR}/modules.json`), message: `cannot be parsed: ${(err as Error).message}` }]);
  }
  return [...new Set(dirs.filter((d) => d === MODULES_DIR || d.startsWith(`${MODULES_DIR}/`)).map(at))].sort();
}

/** One violation as a line for the audit log, `airlock show` and the pull request. */
export function describeViolation(v: GuardViolation): string {
  return `[${v.rule}] ${flaggedText(v.file, 200)}${v.address ? ` ${flaggedText(v.address, 200)}` : ''}: ${visibleText(v.message, 400)}`;
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
