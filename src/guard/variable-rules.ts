// Guard rules about the variables the runner injects. A committed `terraform.tfvars` or `*.auto.tfvars`
// beats the `TF_VAR_*` values the runner hands the engine, so it may not set one of them; and a variable
// the apply identity supplies at apply time must be `ephemeral`, or terraform would apply the value the
// plan identity gave (a saved plan keeps every other variable's value).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { GuardViolation } from './guard.ts';
import { parseHcl } from './hcl-parser.ts';
import { isObject, type Block } from './terraform-files.ts';

// The variable files terraform and tofu read on their own from the root module's directory.
const AUTO_VARS = /^(terraform\.tfvars|.*\.auto\.tfvars)(\.json)?$/;

/** Committed variable files in the root module that set a variable the runner injects. */
export async function findTfvarsViolations(root: string, workDir: string, injected: readonly string[]): Promise<GuardViolation[]> {
  const dir = path.join(root, ...workDir.split('/').filter(Boolean));
  const names = (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((e) => e.isFile() && AUTO_VARS.test(e.name)).map((e) => e.name).sort();
  const found: GuardViolation[] = [];
  const wanted = new Set(injected);
  for (const name of names) {
    const file = workDir === '' ? name : `${workDir}/${name}`;
    let body: Record<string, unknown>;
    try {
      const text = await readFile(path.join(dir, name), 'utf8');
      const parsed: unknown = name.endsWith('.json') ? JSON.parse(text) : await parseHcl(file, text);
      if (!isObject(parsed)) throw new Error('a variable file must hold one object');
      body = parsed;
    } catch (err) {
      found.push({ rule: 'parse-error', file, message: `cannot be parsed: ${(err as Error).message}` });
      continue;
    }
    for (const key of Object.keys(body).filter((k) => wanted.has(k)).sort()) {
      found.push({ rule: 'injected-variable', file, address: `var.${key}`, message: 'sets a variable the runner injects (TF_VAR_* from its config or credentials); a committed value would override it' });
    }
  }
  return found;
}

/** Variables the apply identity supplies that the root module does not declare `ephemeral = true`. */
export function findEphemeralViolations(blocks: Block[], workDir: string, applyTime: readonly string[]): GuardViolation[] {
  const found: GuardViolation[] = [];
  const declared = new Map(blocks.filter((b) => b.kind === 'variable' && b.dir === workDir).map((b) => [b.labels[0]!, b]));
  for (const name of applyTime) {
    const block = declared.get(name);
    if (block !== undefined && block.body['ephemeral'] === true) continue;
    found.push({
      rule: 'apply-variable-not-ephemeral',
      file: block?.file ?? (workDir === '' ? '.' : workDir),
      address: `var.${name}`,
      message: `the apply identity supplies var.${name} at apply time, but the root module does not declare it \`ephemeral = true\`: a saved plan would apply the plan identity's value`,
    });
  }
  return found;
}
