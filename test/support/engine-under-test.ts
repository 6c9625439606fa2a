// Which engine the tests drive: the double by default, a real terraform/tofu when AIRLOCK_TEST_ENGINE
// names one. Knobs that only the double understands are passed through the runner config's engine.env,
// which also proves the child environment is built from the config and nothing else.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const DOUBLE = fileURLToPath(new URL('../doubles/terraform-double.mjs', import.meta.url));

export function engineForTests(): { kind: 'terraform' | 'tofu'; binary: string; isDouble: boolean; path: string; env: Record<string, string> } {
  const real = process.env['AIRLOCK_TEST_ENGINE'];
  return {
    kind: real && path.basename(real).includes('tofu') ? 'tofu' : 'terraform',
    binary: real ?? DOUBLE,
    isDouble: !real,
    // The double is a node script; node must be on the child's PATH wherever node is installed.
    path: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
    env: {},
  };
}
