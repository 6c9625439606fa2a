// Collecting, while the plan JSON streams by, the changes a policy's rules select, with the planned values
// their attribute limits need. Memory stays bounded whatever the plan's size: a few changes are kept per
// finding (enough to decide the tier and name examples), the rest are only counted.
import { listingOf, type RawResourceChange } from '../plan/summary.ts';
import type { PickedAfter, ValuePicker } from '../plan/read-plan-json.ts';
import type { PolicyConfig } from './config.ts';
import { attributeRulesFor, findingKey, judgeChange, type PlanValues, type PolicyChange } from './policy.ts';

/** Changes kept per finding key; more would only lengthen the reasons, never change the tier. */
const KEPT_PER_FINDING = 5;

export interface PolicyCollector extends ValuePicker {
  add(entry: RawResourceChange): void;
  values(): PlanValues;
}

/** A collector for one plan: pass it as the plan reader's `picker`, and `add` every entry to it. */
export function createPolicyCollector(policy: PolicyConfig): PolicyCollector {
  const changes: PolicyChange[] = [];
  const kept = new Map<string, number>();
  const omitted: Record<string, number> = {};

  return {
    pathsFor(address, type) {
      if (policy.attributes.length === 0) return null;
      const rules = attributeRulesFor(policy, { address, type });
      return rules.length === 0 ? null : [...new Set(rules.map((r) => r.attribute))];
    },

    add(entry) {
      const listed = listingOf(entry);
      if (listed === null) return;
      const change: PolicyChange = {
        address: listed.address,
        type: typeof entry.type === 'string' ? entry.type : '',
        action: listed.action,
        ...(entry.picked ? { values: entry.picked as PickedAfter } : {}),
      };
      const keys = judgeChange(policy, change).map(findingKey);
      if (keys.length === 0) return;
      if (keys.some((k) => (kept.get(k) ?? 0) < KEPT_PER_FINDING)) {
        changes.push(change);
        for (const k of keys) kept.set(k, (kept.get(k) ?? 0) + 1);
      } else {
        for (const k of keys) omitted[k] = (omitted[k] ?? 0) + 1;
      }
    },

    values() {
      return { changes: [...changes], omitted: { ...omitted } };
    },
  };
}
