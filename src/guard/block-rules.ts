// Guard rules about blocks: constructs that run programs on the runner host or move state elsewhere. Pure.
import type { GuardViolation } from './guard.ts';
import { bodiesOf, literalString, type Block } from './terraform-files.ts';

/** Blocks that must never reach the engine, whatever the runner's allowlists say. */
export function findBlockViolations(blocks: Block[]): GuardViolation[] {
  const found: GuardViolation[] = [];
  const at = (block: Block, rule: string, message: string) => found.push({ rule, file: block.file, address: block.address, message });

  for (const block of blocks) {
    if (block.kind === 'data' && block.labels[0] === 'external') {
      at(block, 'external-data', 'data "external" runs a program on the runner during plan');
    }
    if (block.kind === 'data' && block.labels[0] === 'terraform_remote_state') {
      // A local (or computed) backend reads any state file on the runner host, other workspaces' included.
      const backend = literalString(block.body['backend']);
      if (backend === undefined || backend === 'local') {
        at(block, 'local-remote-state', `terraform_remote_state with ${backend === undefined ? 'a computed' : 'the "local"'} backend reads state files on the runner host`);
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
