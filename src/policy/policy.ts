// Policy: the risk tier of a plan, from its summary and the few planned values the rules ask for. Pure.
// Defaults: any delete or replace needs two taps, anything else one; a read at apply time, a forget, an
// import or a move is never applied without a tap; a plan the engine says changes something but that names
// nothing is denied, never a blind approval; an errored plan is denied. The
// runner config can let allowlisted types apply without a tap, protect addresses and types, cap planned
// attribute values and cap how much one plan changes. A rule can only raise the tier a change gets, and a
// plan's tier is the highest of its changes', so adding changes never lowers it.
import { createHash } from 'node:crypto';
import { canonicalJson } from '../lib/canonical-json.ts';
import type { GuardConfig } from '../guard/config.ts';
import { matchesGlob } from '../guard/glob.ts';
import type { ChangeAction, PlanSummary } from '../plan/summary.ts';
import { flaggedText } from '../lib/untrusted-text.ts';
import { policySchema, type PolicyConfig } from './config.ts';

import { TIERS, type Tier } from '../run/plan-record.ts';
export { TIERS, type Tier };

export function tierRank(tier: Tier): number {
  return TIERS.indexOf(tier);
}

/** Planned values of one change at the attribute paths the rules asked for (read, never published). */
export interface PickedValues {
  /** Values found at each path of `after`; a path through lists yields one value per element. */
  after: Record<string, unknown[]>;
  /** Paths whose value is unknown until apply (`after_unknown`). */
  unknown: string[];
  /** The plan JSON put `change` before `address`/`type`, so nothing could be picked. */
  unseen?: boolean;
}

export interface PolicyChange {
  address: string;
  type: string;
  action: ChangeAction;
  values?: PickedValues;
}

/** The changes a policy's rules select (see `selectsChange`); every other change only counts. */
export interface PlanValues {
  changes: PolicyChange[];
  /** Findings left out by a bounded collector, per `findingKey`, so reasons can say "and N more". */
  omitted?: Record<string, number>;
}

export interface PolicyDecision {
  tier: Tier;
  /** `[rule-id] what`, the rules that set the tier first. Addresses only, never a value. */
  reasons: string[];
  /** The ids of the rules that set the tier. */
  rules: string[];
}

/** What one rule says about one change. */
export interface Finding {
  rule: string;
  tier: Tier;
  what: string;
  address: string;
}

export const EMPTY_POLICY: PolicyConfig = policySchema.parse(undefined);
const NO_VALUES: PlanValues = { changes: [] };
const LISTED_PER_REASON = 5;

export const protectId = (r: PolicyConfig['protected'][number]) => r.id ?? `protect:${r.match}`;
export const attributeId = (r: PolicyConfig['attributes'][number]) => r.id ?? `attribute:${r.resource}.${r.attribute}`;
export const limitId = (r: PolicyConfig['limits'][number]) => r.id ?? (r.maxChanges !== undefined ? 'limit:max-changes' : 'limit:max-deletes');

const matches = (change: Pick<PolicyChange, 'address' | 'type'>, pattern: string) => matchesGlob(change.type, pattern) || matchesGlob(change.address, pattern);

/** The attribute rules that apply to a resource; the plan reader picks their paths from `after`. */
export function attributeRulesFor(policy: PolicyConfig, change: Pick<PolicyChange, 'address' | 'type'>): PolicyConfig['attributes'] {
  return policy.attributes.filter((r) => matches(change, r.resource));
}

/** Whether a change can affect the tier beyond the counts, so `PlanValues` must hold it. */
export function selectsChange(policy: PolicyConfig, change: Omit<PolicyChange, 'values'>): boolean {
  return judgeChange(policy, change).length > 0;
}

/** Every finding of every rule about one change. Pure. */
export function judgeChange(policy: PolicyConfig, change: PolicyChange): Finding[] {
  const found: Finding[] = [];
  const { action, address } = change;
  if (policy.auto.types.length > 0 && (action === 'create' || action === 'update') && !policy.auto.types.some((t) => matchesGlob(change.type, t))) {
    found.push({ rule: 'auto', tier: 'approve', what: 'not an auto-applied type: one tap needed', address });
  }
  // A read changes nothing it names, and an output is not a resource: only resource changes are protected.
  for (const rule of action === 'read' || action === 'output' ? [] : policy.protected) {
    if (!matches(change, rule.match)) continue;
    const destroys = action === 'delete' || action === 'replace';
    found.push({
      rule: protectId(rule),
      tier: destroys ? 'deny' : 'confirm',
      what: destroys ? 'protected: destroying it is never applied' : 'protected: changing it needs confirmation',
      address,
    });
  }
  if (action === 'create' || action === 'update' || action === 'replace') {
    for (const rule of attributeRulesFor(policy, change)) {
      const problem = attributeProblem(rule, change.values);
      if (problem) found.push({ rule: attributeId(rule), tier: rule.tier, what: problem, address });
    }
  }
  return found;
}

function attributeProblem(rule: PolicyConfig['attributes'][number], values: PickedValues | undefined): string | null {
  const limit = [rule.min !== undefined ? `≥ ${rule.min}` : '', rule.max !== undefined ? `≤ ${rule.max}` : ''].filter(Boolean).join(' and ');
  if (values === undefined || values.unseen) return `${rule.attribute} could not be read from the plan, so the limit (${limit}) cannot be checked`;
  if (values.unknown.includes(rule.attribute)) return `${rule.attribute} is unknown until apply, so the limit (${limit}) cannot be checked`;
  for (const raw of values.after[rule.attribute] ?? []) {
    if (raw === null) continue;
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
    if (!Number.isFinite(n)) return `${rule.attribute} is not a number, so the limit (${limit}) cannot be checked`;
    if (rule.max !== undefined && n > rule.max) return `${rule.attribute} is over the limit (${limit})`;
    if (rule.min !== undefined && n < rule.min) return `${rule.attribute} is under the limit (${limit})`;
  }
  return null;
}

/** The key findings are grouped under in reasons (and counted under by a bounded collector). */
export function findingKey(f: Pick<Finding, 'rule' | 'tier' | 'what'>): string {
  return `${f.rule}\0${f.tier}\0${f.what}`;
}

/** The tier of a plan and why. `planValues` must hold every change `selectsChange` selects. */
export function evaluatePolicy(summary: PlanSummary, planValues: PlanValues, policy: PolicyConfig): PolicyDecision {
  const { counts } = summary;
  if (summary.errored) {
    return decide([{ rule: 'errored', tier: 'deny', what: 'the engine reported errors while planning: an errored plan is never applied', address: '' }], {});
  }
  // Called only for plans the engine says change something (exit code 2): naming nothing is not "no changes".
  if (summary.total === 0) {
    return decide([{ rule: 'unexplained-changes', tier: 'deny', what: 'the engine reported changes, but the plan names none that can be shown: it is never approved blind', address: '' }], {});
  }

  const findings: Finding[] = [];
  const destroys = counts.delete + counts.replace;
  if (destroys > 0) {
    findings.push({ rule: 'default:destroy', tier: 'confirm', what: `destroys ${destroys} resource(s): confirmation required`, address: '' });
  } else {
    findings.push({ rule: 'default:change', tier: 'approve', what: 'changes infrastructure: approval required', address: '' });
  }
  findings.push(...defaultFindings(summary));
  for (const change of planValues.changes) findings.push(...judgeChange(policy, change));
  const onlyCreatesAndUpdates = summary.total === counts.create + counts.update && (counts.imported ?? 0) === 0 && (counts.moved ?? 0) === 0;
  const autoEligible = policy.auto.types.length > 0 && onlyCreatesAndUpdates && !findings.some((f) => f.rule === 'auto');
  if (autoEligible) findings[0] = { rule: 'auto', tier: 'auto', what: `only creates or updates auto-applied types (${policy.auto.types.join(', ')})`, address: '' };
  for (const rule of policy.limits) {
    if (rule.maxChanges !== undefined && summary.total > rule.maxChanges) {
      findings.push({ rule: limitId(rule), tier: rule.tier, what: `${summary.total} resources change, more than ${rule.maxChanges}`, address: '' });
    }
    if (rule.maxDeletes !== undefined && destroys > rule.maxDeletes) {
      findings.push({ rule: limitId(rule), tier: rule.tier, what: `${destroys} resources are destroyed, more than ${rule.maxDeletes}`, address: '' });
    }
  }
  return decide(findings, planValues.omitted ?? {});
}

// What every plan gets for the kinds of change beyond create/update/delete: at least one tap, never `auto`.
const DEFAULT_KINDS: ReadonlyArray<[keyof PlanSummary['counts'], string, string]> = [
  ['read', 'default:read', 'reads data sources at apply time, with the apply identity'],
  ['forget', 'default:forget', 'removes objects from the state without destroying them'],
  ['imported', 'default:import', 'imports existing objects into the state'],
  ['moved', 'default:move', 'moves objects to new addresses in the state'],
  ['output', 'default:output', 'changes root outputs recorded in the state'],
];

function defaultFindings(summary: PlanSummary): Finding[] {
  return DEFAULT_KINDS.filter(([key]) => (summary.counts[key] ?? 0) > 0).map(([key, rule, what]) => ({ rule, tier: 'approve', what: `${what} (${summary.counts[key]}): approval required`, address: '' }));
}

function decide(findings: Finding[], omitted: Record<string, number>): PolicyDecision {
  const tier = findings.reduce<Tier>((t, f) => (tierRank(f.tier) > tierRank(t) ? f.tier : t), 'none');
  const groups = new Map<string, { f: Finding; addresses: string[] }>();
  for (const f of findings) {
    const key = findingKey(f);
    const group = groups.get(key) ?? { f, addresses: [] };
    if (f.address !== '') group.addresses.push(f.address);
    groups.set(key, group);
  }
  const ordered = [...groups.entries()].sort(([, a], [, b]) => tierRank(b.f.tier) - tierRank(a.f.tier));
  const reasons = ordered.map(([key, { f, addresses }]) => {
    const more = Math.max(0, addresses.length - LISTED_PER_REASON) + (omitted[key] ?? 0);
    const listed = addresses.slice(0, LISTED_PER_REASON).map((a) => flaggedText(a, 120));
    const where = listed.length > 0 ? `: ${listed.join(', ')}${more > 0 ? ` and ${more} more` : ''}` : '';
    return `[${f.rule}] ${f.what}${where}`;
  });
  const rules = [...new Set(findings.filter((f) => f.tier === tier).map((f) => f.rule))];
  return { tier, reasons, rules };
}

/** The default tier of a plan the engine says changes something: two taps to destroy, one otherwise. */
export function tierFor(summary: PlanSummary): PolicyDecision {
  return evaluatePolicy(summary, NO_VALUES, EMPTY_POLICY);
}

/** Whether a tier needs a human's second, explicit confirmation. */
export function needsConfirmation(tier: Tier): boolean {
  return tier === 'confirm';
}

/** sha256 of the canonical JSON of the effective guard and policy config: what decided a run's tier. */
export function policyHash(config: { guard: GuardConfig; policy: PolicyConfig }): string {
  return createHash('sha256').update(canonicalJson({ guard: config.guard, policy: config.policy })).digest('hex');
}
