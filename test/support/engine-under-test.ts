// Which engine the tests drive: the double by default, a real terraform/tofu when AIRLOCK_TEST_ENGINE
// names one. Knobs that only the double understands are passed through the runner config's engine.env,
// which also proves the child environment is built from the config and nothing else.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { knobSink } from './knob-sink.ts';

export const DOUBLE = fileURLToPath(new URL('../doubles/terraform-double.mjs', import.meta.url));

export function engineForTests(): { kind: 'terraform' | 'tofu'; binary: string; isDouble: boolean; path: string; env: Record<string, string> } {
  const real = process.env['AIRLOCK_TEST_ENGINE'];
  return {
    kind: real && path.basename(real).includes('tofu') ? 'tofu' : 'terraform',
    binary: real ?? DOUBLE,
    isDouble: !real,
    // The double is a node script; node must be on the child's PATH wherever node is installed.
    path: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
    // Inside the sandbox the double hands its knob files to the test's sink (knob-sink.ts).
    env: !real && sandboxedTests() ? { AIRLOCK_DOUBLE_SINK: knobSink().socket } : {},
  };
}

/** Whether the suite runs engines in the sandbox: yes, unless AIRLOCK_TEST_SANDBOX=none (hosts without bwrap). */
export function sandboxedTests(): boolean {
  return process.env['AIRLOCK_TEST_SANDBOX'] !== 'none';
}

/**
 * The `engine.sandbox` block of test configs: the real sandbox, plus read-only views of what the double
 * needs (its own directory, node when it lives outside /usr, the knob sink's socket).
 */
export function sandboxConfigForTests(): 'none' | { readOnlyPaths: string[] } {
  if (!sandboxedTests()) return 'none';
  const node = path.dirname(path.dirname(process.execPath));
  return { readOnlyPaths: [path.dirname(DOUBLE), knobSink().dir, ...(node.startsWith('/usr') ? [] : [node])] };
}
