// Guard rules about blocks: constructs that run programs on the runner host, read other states or move
// state elsewhere. Pure.
import type { GuardConfig } from './config.ts';
import { matchesGlob } from './glob.ts';
import type { GuardViolation } from './guard.ts';
import { bodiesOf, isObject, literalString, type Block } from './terraform-files.ts';

/** Blocks that must never reach the engine, whatever the runner's allowlists say, and remote-state reads. */
export function findBlockViolations(blocks: Block[], remoteState: GuardConfig['remoteState'] = []): GuardViolation[] {
  const found: GuardViolation[] = [];
  const at = (block: Block, rule: string, message: string) => found.push({ rule, file: block.file, address: block.address, message });

  for (const block of blocks) {
    if (block.kind === 'data' && block.labels[0] === 'external') {
      at(block, 'external-data', 'data "external" runs a program on the runner during plan');
    }
    if (block.kind === 'data' && block.labels[0] === 'terraform_remote_state') {
      // A local (or computed) backend reads any state file on the runner host, other workspaces' included.
      const backend = literalString(block.body['backend']);
      if (backend === 'local') {
        at(block, 'local-remote-state', 'terraform_remote_state with the "local" backend reads state files on the runner host');
      } else {
        const problem = remoteStateProblem(block.body, backend, remoteState);
        if (problem !== null) at(block, 'remote-state', problem);
      }
    }
    if (['resource', 'data', 'ephemeral', 'removed'].includes(block.kind) && 'provisioner' in block.body) {
      const kinds = provisionerKinds(block.body['provisioner']);
      at(block, 'provisioner', `provisioner ${kinds.map((k) => JSON.stringify(k)).join(', ') || 'block'} runs commands on the runner or on remote hosts`);
    }
    if (block.kind === 'terraform') {
      if ('backend' in block.body) {
        const types = bodiesOf(block.body['backend']).flatMap((b) => Object.keys(b));
        at(block, 'backend-block', `backend ${types.map((t) => JSON.stringify(t)).join(', ')}: the runner pins the backend in its own config`);
      }
      if ('cloud' in block.body) at(block, 'cloud-block', 'a cloud block: the runner pins the backend in its own config');
    }
  }
  return found;
}

function provisionerKinds(value: unknown): string[] {
  return [...new Set(bodiesOf(value).flatMap((b) => Object.keys(b)))];
}

/**
 * Why a `terraform_remote_state` block reads a state the runner does not allow, or null. During plan it
 * reads from wherever its backend config points, so a computed address could send values anywhere.
 */
function remoteStateProblem(body: Record<string, unknown>, backend: string | undefined, allow: GuardConfig['remoteState']): string | null {
  const listed = 'terraform_remote_state reads another state during plan; the runner lists the ones it may read (guard.remoteState)';
  if (allow.length === 0) return `${listed}, and lists none`;
  if (backend === undefined) return `its backend is not a literal string: ${listed}`;
  const entries = allow.filter((e) => e.backend === backend);
  if (entries.length === 0) return `backend ${JSON.stringify(backend)} is not allowed: ${listed}`;
  const config = body['config'] ?? {};
  if (!isObject(config)) return `its config is not a literal object: ${listed}`;
  const workspace = body['workspace'] === undefined ? 'default' : literalString(body['workspace']);
  const problems = entries.map((entry) => {
    if (workspace === undefined || !matchesGlob(workspace, entry.workspace)) return `workspace ${JSON.stringify(body['workspace'])} is not allowed`;
    for (const [key, value] of Object.entries(config)) {
      const text = literalString(value);
      const pattern = entry.config[key];
      if (pattern === undefined) return `config key ${JSON.stringify(key)} is not allowed`;
      if (text === undefined) return `config.${key} is not a literal string`;
      if (!matchesGlob(text, pattern)) return `config.${key} ${JSON.stringify(text)} is not allowed`;
    }
    return null;
  });
  return problems.includes(null) ? null : `${problems[0]} for backend ${JSON.stringify(backend)}: ${listed}`;
}
