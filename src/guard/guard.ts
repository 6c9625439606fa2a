// Guard: static checks on the exported tree before any engine process exists. The core rule set covers
// what can be seen from file names alone; HCL-level rules build on `findGuardViolations`.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { AirlockError } from '../errors.ts';

export interface GuardViolation {
  rule: string;
  file: string;
  message: string;
}

// Files that would change how the engine itself behaves, rather than what it plans.
const FILE_RULES: Array<{ rule: string; test: (name: string, isDir: boolean) => boolean; why: string }> = [
  { rule: 'committed-terraform-dir', test: (n, d) => d && n === '.terraform', why: 'a committed .terraform/ directory can carry providers and modules' },
  { rule: 'implied-plugin-mirror', test: (n, d) => d && n === 'terraform.d', why: 'terraform.d/ acts as an implied provider mirror' },
  { rule: 'cli-config', test: (n) => n === '.terraformrc' || n === 'terraform.rc', why: 'a CLI config file can redirect provider installation' },
  { rule: 'committed-state', test: (n) => n.endsWith('.tfstate') || n.endsWith('.tfstate.backup'), why: 'state comes from the runner\'s pinned backend, never from the repo' },
  { rule: 'override-file', test: (n) => /(^|_)override\.tf(\.json)?$/.test(n), why: 'override files can replace the runner\'s pinned backend' },
];

/** Every file-level violation in `root`, in path order. */
export async function findGuardViolations(root: string): Promise<GuardViolation[]> {
  const found: GuardViolation[] = [];
  async function walk(dir: string): Promise<void> {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const rel = path.relative(root, path.join(dir, entry.name));
      const rule = FILE_RULES.find((r) => r.test(entry.name, entry.isDirectory()));
      if (rule) found.push({ rule: rule.rule, file: rel, message: `${JSON.stringify(rel)}: ${rule.why}` });
      else if (entry.isDirectory()) await walk(path.join(dir, entry.name));
    }
  }
  await walk(root);
  return found;
}

export class GuardRefusedError extends AirlockError {
  readonly violations: GuardViolation[];

  constructor(violations: GuardViolation[]) {
    super('airlock:guard-refused', `refused before planning: ${violations.map((v) => `[${v.rule}] ${v.message}`).join('; ')}`, {
      hint: 'Remove the listed files from the pull request; the runner pins backend, providers and CLI config itself.',
    });
    this.violations = violations;
  }
}

/** Throw GuardRefusedError when the tree must not be planned. */
export async function guardTree(root: string): Promise<void> {
  const violations = await findGuardViolations(root);
  if (violations.length > 0) throw new GuardRefusedError(violations);
}
