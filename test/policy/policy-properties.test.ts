// Properties of the policy over generated plans and policies:
// - monotonic: tier(plan) ≥ tier(any non-empty subset of its changes); adding changes never lowers the tier
//   (a plan naming nothing is denied: the policy only sees plans the engine says change something);
// - the bounded collector decides exactly as the full change list does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { ChangeAction } from '../../src/plan/summary.ts';
import { createPolicyCollector } from '../../src/policy/policy-collector.ts';
import { evaluatePolicy, tierRank } from '../../src/policy/policy.ts';
import { change, policyOf, rawEntry, summaryOf, valuesOf, type Change } from './policy-cases.ts';

const TYPES = ['aws_instance', 'aws_iam_role', 'todoist_task', 'cloudflare_record', 'kubernetes_deployment'] as const;
const ACTIONS: ChangeAction[] = ['create', 'update', 'delete', 'replace', 'forget', 'read', 'import', 'move'];

const changeArb: fc.Arbitrary<Change> = fc
  .record({
    type: fc.constantFrom(...TYPES),
    module: fc.constantFrom('', 'module.prod.', 'module.lab.'),
    name: fc.integer({ min: 0, max: 50 }),
    action: fc.constantFrom(...ACTIONS),
    replicas: fc.option(fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constant('7'), fc.constant('lots'), fc.constant(null)), { nil: undefined }),
    unknown: fc.boolean(),
  })
  .map((r) => {
    const address = `${r.module}${r.type}.r${r.name}`;
    if (r.type !== 'kubernetes_deployment') return change(r.action, address);
    return change(r.action, address, r.replicas === undefined ? {} : { 'spec.replicas': [r.replicas] }, r.unknown ? ['spec.replicas'] : []);
  });

const policyArb = fc
  .record({
    auto: fc.subarray(['todoist_task', 'cloudflare_*', 'aws_*']),
    protected: fc.subarray(['aws_iam_*', 'module.prod.*', 'cloudflare_record.r1']),
    replicasMax: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
    replicasTier: fc.constantFrom('approve', 'confirm', 'deny'),
    maxChanges: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }),
    maxDeletes: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
    limitTier: fc.constantFrom('approve', 'confirm', 'deny'),
  })
  .map((p) =>
    policyOf({
      auto: { types: p.auto },
      protected: p.protected,
      attributes: p.replicasMax === undefined ? [] : [{ resource: 'kubernetes_deployment.*', attribute: 'spec.replicas', max: p.replicasMax, tier: p.replicasTier }],
      limits: [
        ...(p.maxChanges === undefined ? [] : [{ maxChanges: p.maxChanges, tier: p.limitTier }]),
        ...(p.maxDeletes === undefined ? [] : [{ maxDeletes: p.maxDeletes, tier: p.limitTier }]),
      ],
    }),
  );

// Addresses are unique in a plan.
const planArb = fc.uniqueArray(changeArb, { selector: (c) => c.address, maxLength: 30 });

test('tier(plan) ≥ tier(any subset of its changes)', () => {
  fc.assert(
    fc.property(policyArb, planArb.chain((plan) => fc.tuple(fc.constant(plan), fc.subarray(plan))), (policy, [plan, subset]) => {
      fc.pre(subset.length > 0);
      const whole = evaluatePolicy(summaryOf(plan), valuesOf(plan), policy);
      const part = evaluatePolicy(summaryOf(subset), valuesOf(subset), policy);
      assert.ok(tierRank(whole.tier) >= tierRank(part.tier), `${whole.tier} < ${part.tier}: ${part.reasons.join(' | ')}`);
    }),
    { numRuns: 2000 },
  );
});

test('adding one change never lowers the tier', () => {
  fc.assert(
    fc.property(policyArb, planArb, changeArb, (policy, plan, extra) => {
      fc.pre(plan.length > 0 && !plan.some((c) => c.address === extra.address));
      const before = evaluatePolicy(summaryOf(plan), valuesOf(plan), policy);
      const grown = [...plan, extra];
      const after = evaluatePolicy(summaryOf(grown), valuesOf(grown), policy);
      assert.ok(tierRank(after.tier) >= tierRank(before.tier), `${before.tier} → ${after.tier} after ${extra.action} ${extra.address}`);
    }),
    { numRuns: 2000 },
  );
});

test('the bounded collector decides as the full list does', () => {
  fc.assert(
    fc.property(policyArb, fc.uniqueArray(changeArb, { selector: (c) => c.address, maxLength: 120 }), (policy, plan) => {
      const collector = createPolicyCollector(policy);
      for (const c of plan) collector.add({ ...rawEntry(c), type: c.type, ...(c.values ? { picked: c.values } : {}) });
      const summary = summaryOf(plan);
      assert.deepEqual(evaluatePolicy(summary, collector.values(), policy), evaluatePolicy(summary, valuesOf(plan), policy));
    }),
    { numRuns: 500 },
  );
});
