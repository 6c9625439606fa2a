// Building summaries and policy inputs from short change lists, for the policy tables and properties.
import { policySchema, type PolicyConfig } from '../../src/policy/config.ts';
import type { PlanValues, PolicyChange } from '../../src/policy/policy.ts';
import { createSummaryBuilder, type ChangeAction, type PlanSummary } from '../../src/plan/summary.ts';

export type Change = PolicyChange;

/** The `resource_changes[]` entry the engine writes for a change listed as `action`. */
export function rawEntry(c: Change) {
  switch (c.action) {
    case 'replace':
      return { address: c.address, mode: 'managed', change: { actions: ['delete', 'create'] } };
    case 'read':
      return { address: c.address, mode: 'data', change: { actions: ['read'] } };
    case 'import':
      return { address: c.address, mode: 'managed', change: { actions: ['no-op'], importing: true } };
    case 'move':
      return { address: c.address, previous_address: `${c.address}_old`, mode: 'managed', change: { actions: ['no-op'] } };
    default:
      return { address: c.address, mode: 'managed', change: { actions: [c.action] } };
  }
}

/** The summary the plan reader would build for these changes. */
export function summaryOf(changes: Change[], errored = false): PlanSummary {
  const builder = createSummaryBuilder();
  changes.forEach((c, i) => (c.action === 'output' ? builder.addOutput(c.address.replace(/^output\./, ''), ['update']) : builder.add(rawEntry(c), i)));
  return builder.finish({ formatVersion: '1.2', engineVersion: '1.11.4', errored });
}

export function valuesOf(changes: Change[]): PlanValues {
  return { changes };
}

export function policyOf(input: unknown): PolicyConfig {
  return policySchema.parse(input);
}

/** A change of `type.name`, with planned values at `values` (path → values). */
export function change(action: ChangeAction, address: string, values?: Record<string, unknown[]>, unknown: string[] = []): Change {
  const type = address.replace(/^(module\.[^.]+\.)+/, '').split('.')[0]!;
  return { address, type, action, ...(values ? { values: { after: values, unknown } } : {}) };
}
