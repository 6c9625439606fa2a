// Plan domain: what a plan would do, reduced to addresses, actions and complete counts. Pure.
// A summary never holds an attribute value: only `address` and the action of each change are read, so
// nothing from before/after/variables/prior_state can reach a notification, a log or a PR comment.
import { PlanJsonError } from './errors.ts';
import { visibleText } from './untrusted-text.ts';

export type ChangeAction = 'create' | 'update' | 'delete' | 'replace' | 'forget';

export interface PlanCounts {
  create: number;
  update: number;
  delete: number;
  replace: number;
  forget: number;
  read: number;
  noop: number;
}

export interface PlanSummary {
  formatVersion: string;
  engineVersion: string;
  /** Always complete, even when `changes` is cut. */
  counts: PlanCounts;
  /** Deletes, then replaces, then forgets, then creates, then updates; plan order within each group. */
  changes: Array<{ address: string; action: ChangeAction }>;
  /** `changes.length`; at most the builder's `maxListed`. */
  listed: number;
  /** Changed resources (everything but read and no-op). */
  total: number;
  errored: boolean;
}

/** One `resource_changes[]` element as it comes from the JSON; nothing in it is trusted. */
export interface RawResourceChange {
  address?: unknown;
  mode?: unknown;
  change?: { actions?: unknown };
  [k: string]: unknown;
}

export interface SummaryBuilder {
  add(entry: RawResourceChange, index: number): void;
  finish(meta: { formatVersion: string; engineVersion: string; errored: boolean }): PlanSummary;
}

export const DEFAULT_MAX_LISTED = 2000;

/** The order changes are listed in: what destroys comes first. */
export const LISTING_ORDER: readonly ChangeAction[] = ['delete', 'replace', 'forget', 'create', 'update'];

const SINGLE_ACTIONS: ReadonlyMap<string, ChangeAction | 'read' | 'noop'> = new Map([
  ['no-op', 'noop'],
  ['create', 'create'],
  ['read', 'read'],
  ['update', 'update'],
  ['delete', 'delete'],
  ['forget', 'forget'],
]);

/** Classify a `change.actions` array; any two-element array of known actions is a replace. */
export function actionOf(actions: unknown): ChangeAction | 'read' | 'noop' {
  return classify(actions, 'change.actions');
}

function classify(actions: unknown, where: string): ChangeAction | 'read' | 'noop' {
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
  return { create: 0, update: 0, delete: 0, replace: 0, forget: 0, read: 0, noop: 0 };
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
  const groups: Record<ChangeAction, string[]> = { delete: [], replace: [], forget: [], create: [], update: [] };
  let kept = 0;

  function keep(address: string, action: ChangeAction): void {
    if (kept < maxListed) {
      groups[action].push(address);
      kept += 1;
      return;
    }
    // Full: the new entry goes last within its group, so it displaces the very last kept entry only when that
    // one belongs to a group listed after it.
    const rank = LISTING_ORDER.indexOf(action);
    for (let g = LISTING_ORDER.length - 1; g > rank; g--) {
      const group = groups[LISTING_ORDER[g]!];
      if (group.length > 0) {
        group.pop();
        groups[action].push(address);
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
      const change: unknown = entry.change;
      const actions = typeof change === 'object' && change !== null ? (change as { actions?: unknown }).actions : undefined;
      const action = classify(actions, `${where}.change.actions`);
      // Reads and no-ops need no approval, so a read is only believed of a data source.
      if (action === 'read' && mode !== 'data') {
        throw new PlanJsonError(`${where}: a "read" is only valid for mode "data", got mode ${describeValue(mode)}`);
      }
      counts[action] += 1;
      if (action !== 'read' && action !== 'noop') keep(address, action);
    },

    finish(meta) {
      const changes = LISTING_ORDER.flatMap((action) => groups[action].map((address) => ({ address, action })));
      return {
        formatVersion: meta.formatVersion,
        engineVersion: meta.engineVersion,
        counts: { ...counts },
        changes,
        listed: changes.length,
        total: counts.create + counts.update + counts.delete + counts.replace + counts.forget,
        errored: meta.errored,
      };
    },
  };
}
