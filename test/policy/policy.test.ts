// The policy as a table: one row per case, covering every tier, the defaults, auto types, protected
// patterns, attribute limits and change counts; then the hash, the bounded collector and the reasons.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guardSchema } from '../../src/guard/config.ts';
import { createPolicyCollector } from '../../src/policy/policy-collector.ts';
import { EMPTY_POLICY, evaluatePolicy, policyHash, tierFor, type Tier } from '../../src/policy/policy.ts';
import { change, policyOf, summaryOf, valuesOf, type Change } from './policy-cases.ts';

const AUTO = { auto: { types: ['todoist_task', 'cloudflare_*'] } };
const PROTECT = { protected: ['aws_iam_*', { id: 'prod', match: 'module.prod.*' }] };
const REPLICAS = { attributes: [{ resource: 'kubernetes_deployment.*', attribute: 'spec.replicas', max: 5 }] };
const MEMORY = { attributes: [{ id: 'vm-memory', resource: 'proxmox_vm_qemu', attribute: 'memory', min: 512, max: 16384, tier: 'confirm' }] };
const COUNTS = { limits: [{ maxChanges: 3 }, { maxDeletes: 1, tier: 'deny' }] };

// [case, policy, changes, expected tier, a rule id that must be named first]
const CASES: Array<[string, object, Change[], Tier, string]> = [
  // evaluatePolicy runs for plans the engine says change something (exit code 2): naming nothing is no blind pass
  ['changes the summary cannot name', {}, [], 'deny', 'unexplained-changes'],
  ['a create', {}, [change('create', 'aws_instance.a')], 'approve', 'default:change'],
  ['an update', {}, [change('update', 'aws_instance.a')], 'approve', 'default:change'],
  ['a forget', {}, [change('forget', 'aws_instance.a')], 'approve', 'default:forget'],
  ['a deferred read (apply time, apply identity)', {}, [change('read', 'data.terraform_remote_state.s')], 'approve', 'default:read'],
  ['an import', {}, [change('import', 'aws_instance.a')], 'approve', 'default:import'],
  ['a move', {}, [change('move', 'aws_instance.a')], 'approve', 'default:move'],
  ['an output change only', {}, [change('output', 'output.endpoint')], 'approve', 'default:output'],
  ['a delete', {}, [change('create', 'aws_instance.a'), change('delete', 'aws_instance.b')], 'confirm', 'default:destroy'],
  ['a replace', {}, [change('replace', 'aws_instance.a')], 'confirm', 'default:destroy'],

  ['auto: allowlisted creates and updates', AUTO, [change('create', 'todoist_task.t'), change('update', 'cloudflare_record.lab')], 'auto', 'auto'],
  ['auto: one other type needs a tap', AUTO, [change('create', 'todoist_task.t'), change('create', 'aws_instance.a')], 'approve', 'default:change'],
  ['auto: a delete of an allowlisted type is not auto', AUTO, [change('delete', 'todoist_task.t')], 'confirm', 'default:destroy'],
  ['auto: a forget is not auto', AUTO, [change('forget', 'todoist_task.t')], 'approve', 'default:forget'],
  ['auto: a deferred read is never auto', AUTO, [change('create', 'todoist_task.t'), change('read', 'data.todoist_project.p')], 'approve', 'default:read'],
  ['auto: an import is never auto', AUTO, [change('import', 'todoist_task.t')], 'approve', 'default:import'],
  ['auto: a move is never auto', AUTO, [change('create', 'todoist_task.t'), change('move', 'todoist_task.u')], 'approve', 'default:move'],
  ['auto: an output change is never auto', AUTO, [change('create', 'todoist_task.t'), change('output', 'output.x')], 'approve', 'default:output'],
  ['auto: a plan that names nothing is denied, not auto', AUTO, [], 'deny', 'unexplained-changes'],

  ['protected type: any change needs confirmation', PROTECT, [change('update', 'aws_iam_role.admin')], 'confirm', 'protect:aws_iam_*'],
  ['protected type: a delete is denied', PROTECT, [change('delete', 'aws_iam_role.admin')], 'deny', 'protect:aws_iam_*'],
  ['protected address: a replace is denied', PROTECT, [change('replace', 'module.prod.aws_instance.db')], 'deny', 'prod'],
  ['protected address: a create needs confirmation', PROTECT, [change('create', 'module.prod.aws_instance.db')], 'confirm', 'prod'],
  ['protected: unrelated changes keep the default', PROTECT, [change('create', 'module.lab.aws_instance.db')], 'approve', 'default:change'],
  ['protected: a forget needs confirmation', PROTECT, [change('forget', 'aws_iam_role.admin')], 'confirm', 'protect:aws_iam_*'],
  ['protected: an import needs confirmation', PROTECT, [change('import', 'module.prod.aws_instance.db')], 'confirm', 'prod'],
  ['protected: a move needs confirmation', PROTECT, [change('move', 'aws_iam_role.admin')], 'confirm', 'protect:aws_iam_*'],
  ['protected beats auto', { ...AUTO, protected: ['cloudflare_record.apex'] }, [change('update', 'cloudflare_record.apex')], 'confirm', 'protect:cloudflare_record.apex'],

  ['attribute within the limit', REPLICAS, [change('create', 'kubernetes_deployment.web', { 'spec.replicas': ['3'] })], 'approve', 'default:change'],
  ['attribute over the limit', REPLICAS, [change('update', 'kubernetes_deployment.web', { 'spec.replicas': ['7'] })], 'deny', 'attribute:kubernetes_deployment.*.spec.replicas'],
  ['attribute over the limit in one list element', REPLICAS, [change('create', 'kubernetes_deployment.web', { 'spec.replicas': [2, 9] })], 'deny', 'attribute:kubernetes_deployment.*.spec.replicas'],
  ['attribute unknown until apply', REPLICAS, [change('create', 'kubernetes_deployment.web', {}, ['spec.replicas'])], 'deny', 'attribute:kubernetes_deployment.*.spec.replicas'],
  ['attribute not a number', REPLICAS, [change('create', 'kubernetes_deployment.web', { 'spec.replicas': ['many'] })], 'deny', 'attribute:kubernetes_deployment.*.spec.replicas'],
  ['attribute that could not be read', REPLICAS, [change('create', 'kubernetes_deployment.web')], 'deny', 'attribute:kubernetes_deployment.*.spec.replicas'],
  ['attribute null (not set)', REPLICAS, [change('create', 'kubernetes_deployment.web', { 'spec.replicas': [null] })], 'approve', 'default:change'],
  ['attribute limits do not apply to deletes', REPLICAS, [change('delete', 'kubernetes_deployment.web')], 'confirm', 'default:destroy'],
  ['attribute limit with its own tier and id', MEMORY, [change('create', 'proxmox_vm_qemu.big', { memory: [65536] })], 'confirm', 'vm-memory'],
  ['attribute under a minimum', MEMORY, [change('create', 'proxmox_vm_qemu.tiny', { memory: [256] })], 'confirm', 'vm-memory'],
  ['attribute within min and max', MEMORY, [change('create', 'proxmox_vm_qemu.ok', { memory: [4096] })], 'approve', 'default:change'],

  ['changes at the limit', COUNTS, [1, 2, 3].map((i) => change('create', `aws_instance.a${i}`)), 'approve', 'default:change'],
  ['more changes than the limit', COUNTS, [1, 2, 3, 4].map((i) => change('create', `aws_instance.a${i}`)), 'confirm', 'limit:max-changes'],
  ['more deletes than the limit', COUNTS, [change('delete', 'aws_instance.a'), change('delete', 'aws_instance.b')], 'deny', 'limit:max-deletes'],
  ['deletes at the limit', COUNTS, [change('delete', 'aws_instance.a')], 'confirm', 'default:destroy'],
  ['a change limit raises auto', { ...AUTO, limits: [{ maxChanges: 1, tier: 'approve' }] }, [change('create', 'todoist_task.a'), change('create', 'todoist_task.b')], 'approve', 'limit:max-changes'],
];

describe('policy: tiers', () => {
  for (const [name, policy, changes, tier, rule] of CASES) {
    it(`${name} → ${tier}`, () => {
      const decision = evaluatePolicy(summaryOf(changes), valuesOf(changes), policyOf(policy));
      assert.equal(decision.tier, tier, decision.reasons.join(' | '));
      assert.ok(decision.rules.includes(rule), `rules ${JSON.stringify(decision.rules)} should include ${rule}`);
      assert.ok(decision.reasons[0]!.startsWith('['), decision.reasons[0]);
      assert.ok(decision.reasons.some((r) => r.startsWith(`[${rule}] `)), JSON.stringify(decision.reasons));
    });
  }

  it('an errored plan is denied', () => {
    const decision = evaluatePolicy(summaryOf([change('create', 'aws_instance.a')], true), valuesOf([]), policyOf(AUTO));
    assert.deepEqual([decision.tier, decision.rules], ['deny', ['errored']]);
  });

  it('tierFor keeps the defaults of an empty policy', () => {
    for (const [, , changes] of CASES) {
      const summary = summaryOf(changes);
      assert.deepEqual(tierFor(summary), evaluatePolicy(summary, valuesOf(changes), EMPTY_POLICY));
    }
    assert.equal(tierFor(summaryOf([change('delete', 'x.y')])).tier, 'confirm');
  });
});

describe('policy: reasons', () => {
  it('name the rule and the addresses, never a planned value', () => {
    const changes = [change('update', 'kubernetes_deployment.web', { 'spec.replicas': [987654321] })];
    const { reasons } = evaluatePolicy(summaryOf(changes), valuesOf(changes), policyOf(REPLICAS));
    assert.match(reasons[0]!, /^\[attribute:kubernetes_deployment\.\*\.spec\.replicas\] spec\.replicas is over the limit \(≤ 5\): kubernetes_deployment\.web$/);
    assert.ok(!JSON.stringify(reasons).includes('987654321'));
  });

  it('list a few addresses per finding and count the rest', () => {
    const changes = Array.from({ length: 12 }, (_, i) => change('delete', `aws_iam_role.r${i}`));
    const { reasons } = evaluatePolicy(summaryOf(changes), valuesOf(changes), policyOf(PROTECT));
    assert.match(reasons[0]!, /^\[protect:aws_iam_\*\] protected: destroying it is never applied: aws_iam_role\.r0, .*aws_iam_role\.r4 and 7 more$/);
  });

  it('make hostile addresses visible', () => {
    const changes = [change('delete', 'aws_iam_role.x["\u202eevil\u001b[2J"]')];
    const { reasons } = evaluatePolicy(summaryOf(changes), valuesOf(changes), policyOf(PROTECT));
    assert.ok(!/[\u202e\u001b]/.test(reasons.join('')), JSON.stringify(reasons));
  });
});

describe('policy: collector', () => {
  it('keeps memory bounded on a huge plan and decides exactly as on the full list', () => {
    const policy = policyOf({ ...PROTECT, ...AUTO, ...REPLICAS });
    const collector = createPolicyCollector(policy);
    const changes: Change[] = [];
    for (let i = 0; i < 20_000; i++) {
      const c = i % 3 === 0 ? change('delete', `aws_iam_role.r${i}`) : i % 3 === 1 ? change('create', `aws_instance.i${i}`) : change('create', `kubernetes_deployment.d${i}`, { 'spec.replicas': [i % 10] });
      changes.push(c);
      const actions = c.action === 'delete' ? ['delete'] : ['create'];
      collector.add({ address: c.address, mode: 'managed', type: c.type, change: { actions }, ...(c.values ? { picked: c.values } : {}) });
    }
    const kept = collector.values();
    assert.ok(kept.changes.length <= 25, `kept ${kept.changes.length}`);
    const summary = summaryOf(changes);
    const bounded = evaluatePolicy(summary, kept, policy);
    const full = evaluatePolicy(summary, valuesOf(changes), policy);
    assert.equal(bounded.tier, full.tier);
    assert.deepEqual(bounded.rules, full.rules);
    assert.deepEqual(bounded.reasons, full.reasons, 'the "and N more" counts agree');
  });

  it('asks the plan reader only for the paths of matching attribute rules', () => {
    const collector = createPolicyCollector(policyOf({ attributes: [...REPLICAS.attributes, ...MEMORY.attributes] }));
    assert.deepEqual(collector.pathsFor('kubernetes_deployment.web', 'kubernetes_deployment'), ['spec.replicas']);
    assert.deepEqual(collector.pathsFor('proxmox_vm_qemu.x', 'proxmox_vm_qemu'), ['memory']);
    assert.equal(collector.pathsFor('aws_instance.a', 'aws_instance'), null);
    assert.equal(createPolicyCollector(EMPTY_POLICY).pathsFor('kubernetes_deployment.web', 'kubernetes_deployment'), null);
  });
});

describe('policyHash', () => {
  const config = { guard: guardSchema.parse({ providers: ['hashicorp/aws'] }), policy: policyOf(PROTECT) };

  it('is the sha256 of the effective guard and policy config, independent of key order', () => {
    assert.match(policyHash(config), /^[0-9a-f]{64}$/);
    const reordered = { policy: { ...config.policy }, guard: Object.fromEntries(Object.entries(config.guard).reverse()) as typeof config.guard };
    assert.equal(policyHash(reordered), policyHash(config));
  });

  it('changes with any rule and any allowlist entry', () => {
    assert.notEqual(policyHash({ ...config, policy: policyOf({ protected: ['aws_iam_role'] }) }), policyHash(config));
    assert.notEqual(policyHash({ ...config, guard: guardSchema.parse({ providers: ['hashicorp/aws'], mode: 'lenient' }) }), policyHash(config));
    assert.equal(policyHash({ guard: guardSchema.parse(undefined), policy: policyOf(undefined) }), policyHash({ guard: guardSchema.parse({}), policy: policyOf({ protected: [] }) }), 'defaults are part of the effective config');
  });
});
