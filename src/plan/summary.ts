// Plan domain: what a plan would do, reduced to addresses, actions and complete counts. Pure.
// A summary never holds an attribute value: only `address` and the action of each change are read, so
// nothing from before/after/variables/prior_state can reach a notification, a log or a PR comment.
import { PlanJsonError } from './errors.ts';
import { visibleText } from '../lib/untrusted-text.ts';

export { LISTING_ORDER, type ChangeAction, type DriftSummary, type PlanCounts, type ListedChange, type PlanSummary } from '../run/plan-record.ts';
import { LISTING_ORDER, type ChangeAction, type DriftSummary, type PlanCounts, type ListedChange, type PlanSummary } from '../run/plan-record.ts';

/** One `resource_changes[]` element as it comes from the JSON; nothing in it is trusted. */
export interface RawResourceChange {
  address?: unknown;
  mode?: unknown;
  previous_address?: unknown;
  change?: { actions?: unknown; importing?: unknown };
  [k: string]: unknown;
}

export interface SummaryBuilder {
  add(entry: RawResourceChange, index: number): void;
  /** One `output_changes` member: `name` and its `actions`. */
  addOutput(name: string, actions: unknown): void;
  /** One `resource_drift[]` element: an object changed (`update`) or deleted (`delete`) outside of the engine. */
  addDrift(entry: RawResourceChange, index: number): void;
  finish(meta: { formatVersion: string; engineVersion: string; errored: boolean }): PlanSummary;
}

export const DEFAULT_MAX_LISTED = 2000;

type BaseAction = 'create' | 'update' | 'delete' | 'replace' | 'forget' | 'read' | 'noop';

const SINGLE_ACTIONS: ReadonlyMap<string, BaseAction> = new Map([
  ['no-op', 'noop'],
  ['create', 'create'],
  ['read', 'read'],
  ['update', 'update'],
  ['delete', 'delete'],
  ['forget', 'forget'],
]);

/** Classify a `change.actions` array; any two-element array of known actions is a replace. */
export function actionOf(actions: unknown): BaseAction {
  return classify(actions, 'change.actions');
}

function classify(actions: unknown, where: string): BaseAction {
  if (Array.isArray(actions) && actions.every((a) => typeof a === 'string')) {
    if (actions.length === 1) {
      const action = SINGLE_ACTIONS.get(actions[0] as string);
      if (action !== undefined) return action;
    }
    // Terraform says ["delete","create"] or ["create","delete"]; OpenTofu orders forget+create its own way.
    // Whatever the order, two actions on one address replace it.
    if (actions.length === 2 && actions.every((a) => SINGLE_ACTIONS.has(a as string))) return 'replace';
  }
  throw new PlanJsonError(`${where} is not a known action list, got ${describeValue(actions)}`);
}

/** How a validated resource change is listed, or null when applying it does nothing. */
export function listingOf(entry: RawResourceChange, base: BaseAction = actionOf(entry.change?.actions)): ListedChange | null {
  const address = String(entry.address);
  const movedFrom = typeof entry.previous_address === 'string' && entry.previous_address !== address ? entry.previous_address : undefined;
  const imported = entry.change?.importing !== undefined && entry.change.importing !== null;
  const action: ChangeAction | null = base !== 'noop' ? base : imported ? 'import' : movedFrom !== undefined ? 'move' : null;
  if (action === null) return null;
  return { address, action, ...(movedFrom !== undefined ? { movedFrom } : {}), ...(imported ? { imported: true } : {}) };
}

/** The entry's address, after checking the entry is an object with a non-empty string address. */
function checkedAddress(entry: RawResourceChange, where: string): string {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new PlanJsonError(`${where} must be an object, got ${describeValue(entry)}`);
  }
  if (typeof entry.address !== 'string' || entry.address === '') {
    throw new PlanJsonError(`${where}.address must be a non-empty string, got ${describeValue(entry.address)}`);
  }
  if (entry.mode !== undefined && entry.mode !== 'managed') {
    throw new PlanJsonError(`${where}.mode must be "managed" (only managed objects drift), got ${describeValue(entry.mode)}`);
  }
  return entry.address;
}

/** A bad value for an error message: JSON, made visible, at most 80 characters. */
export function describeValue(value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined;
  }
  return visibleText(json ?? String(value), 80);
}

/** Whether applying the plan would delete or replace anything. */
export function isDestructive(s: PlanSummary): boolean {
  return s.counts.delete > 0 || s.counts.replace > 0;
}

/** Whether the plan changes anything at all, so a human has to approve it. */
export function needsApproval(s: PlanSummary): boolean {
  return s.total > 0;
}

/** An empty, complete set of counts. */
export function emptyCounts(): PlanCounts {
  return { create: 0, update: 0, delete: 0, replace: 0, forget: 0, read: 0, import: 0, move: 0, output: 0, noop: 0, imported: 0, moved: 0 };
}

/** A count that a summary stored before a field existed may lack. */
export function countOf(counts: Partial<PlanCounts>, key: keyof PlanCounts): number {
  return counts[key] ?? 0;
}

/**
 * Build a summary entry by entry, so a streaming reader holds at most `maxListed` addresses. The kept list
 * is always the first `maxListed` entries of the full listing order: a delete that arrives after the list is
 * full evicts the last kept entry of a later group (an update before a create).
 */
export function createSummaryBuilder(opts: { maxListed?: number } = {}): SummaryBuilder {
  const maxListed = opts.maxListed ?? DEFAULT_MAX_LISTED;
  if (!Number.isSafeInteger(maxListed) || maxListed < 0) {
    throw new RangeError(`maxListed must be a whole number ≥ 0, got ${describeValue(maxListed)}`);
  }
  const counts = emptyCounts();
  const groups = Object.fromEntries(LISTING_ORDER.map((a) => [a, [] as ListedChange[]])) as Record<ChangeAction, ListedChange[]>;
  let kept = 0;
  const drift: DriftSummary = { changes: [], listed: 0, total: 0 };

  function keep(change: ListedChange): void {
    counts[change.action] += 1;
    if (kept < maxListed) {
      groups[change.action].push(change);
      kept += 1;
      return;
    }
    // Full: the new entry goes last within its group, so it displaces the very last kept entry only when that
    // one belongs to a group listed after it.
    const rank = LISTING_ORDER.indexOf(change.action);
    for (let g = LISTING_ORDER.length - 1; g > rank; g--) {
      const group = groups[LISTING_ORDER[g]!];
      if (group.length > 0) {
        group.pop();
        groups[change.action].push(change);
        return;
      }
    }
  }

  return {
    add(entry, index) {
      const where = `resource_changes[${index}]`;
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        throw new PlanJsonError(`${where} must be an object, got ${describeValue(entry)}`);
      }
      const { address, mode } = entry;
      if (typeof address !== 'string' || address === '') {
        throw new PlanJsonError(`${where}.address must be a non-empty string, got ${describeValue(address)}`);
      }
      if (mode !== undefined && mode !== 'managed' && mode !== 'data') {
        throw new PlanJsonError(`${where}.mode must be "managed" or "data", got ${describeValue(mode)}`);
      }
      if (entry.previous_address !== undefined && (typeof entry.previous_address !== 'string' || entry.previous_address === '')) {
        throw new PlanJsonError(`${where}.previous_address must be a non-empty string, got ${describeValue(entry.previous_address)}`);
      }
      const change: unknown = entry.change;
      const actions = typeof change === 'object' && change !== null ? (change as { actions?: unknown }).actions : undefined;
      const base = classify(actions, `${where}.change.actions`);
      // A read is only believed of a data source; it runs at apply time with the apply identity.
      if (base === 'read' && mode !== 'data') {
        throw new PlanJsonError(`${where}: a "read" is only valid for mode "data", got mode ${describeValue(mode)}`);
      }
      const listed = listingOf(entry, base);
      if (listed === null) {
        counts.noop += 1;
        return;
      }
      if (listed.imported) counts.imported += 1;
      if (listed.movedFrom !== undefined) counts.moved += 1;
      keep(listed);
    },

    addOutput(name, actions) {
      const base = classify(actions, `output_changes[${describeValue(name)}].actions`);
      if (base === 'noop') return;
      if (base === 'read' || base === 'forget') throw new PlanJsonError(`output_changes[${describeValue(name)}].actions cannot be ${describeValue(actions)}`);
      keep({ address: `output.${name}`, action: 'output' });
    },

    addDrift(entry, index) {
      const where = `resource_drift[${index}]`;
      const address = checkedAddress(entry, where);
      const change: unknown = entry.change;
      const actions = typeof change === 'object' && change !== null ? (change as { actions?: unknown }).actions : undefined;
      const base = classify(actions, `${where}.change.actions`);
      if (base === 'noop') return;
      if (base !== 'update' && base !== 'delete') {
        throw new PlanJsonError(`${where}.change.actions must be ["update"] or ["delete"] (an object changed or deleted outside of the engine), got ${describeValue(actions)}`);
      }
      drift.total += 1;
      if (drift.changes.length < maxListed) drift.changes.push({ address, action: base });
    },

    finish(meta) {
      const changes = LISTING_ORDER.flatMap((action) => groups[action]);
      const total = LISTING_ORDER.reduce((n, action) => n + counts[action], 0);
      const drifted = drift.total > 0 ? { drift: { ...drift, listed: drift.changes.length } } : {};
      return { formatVersion: meta.formatVersion, engineVersion: meta.engineVersion, counts: { ...counts }, changes, listed: changes.length, total, errored: meta.errored, ...drifted };
    },
  };
}
