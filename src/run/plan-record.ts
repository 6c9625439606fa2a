// What a run records about its plan: the summary's shape, the tier it was given and its fingerprint.
// Types only. The plan, policy and audit domains compute these; the run entity stores them.

/**
 * How a change is listed. Besides what happens to the object (create … forget), a plan can read a data source
 * at apply time with the apply identity (`read`), adopt an object (`import`), rename one in the state
 * (`move`) or change a root output (`output`); each of those is something approving the plan does.
 */
export type ChangeAction = 'delete' | 'replace' | 'forget' | 'read' | 'import' | 'move' | 'create' | 'update' | 'output';

/** The order changes are listed in: destroys and forgets first. */
export const LISTING_ORDER: readonly ChangeAction[] = ['delete', 'replace', 'forget', 'read', 'import', 'move', 'create', 'update', 'output'];

export interface PlanCounts {
  /** Entries by how they are listed: every listed change is counted once, under its action. */
  create: number;
  update: number;
  delete: number;
  replace: number;
  forget: number;
  read: number;
  import: number;
  move: number;
  output: number;
  noop: number;
  /** Objects the plan imports or moves, whatever else happens to them (an import may also update). */
  imported: number;
  moved: number;
}

export interface ListedChange {
  address: string;
  action: ChangeAction;
  /** The address the object had before a `moved` block renamed it. */
  movedFrom?: string;
  /** The object is imported (and, for `update`, then changed). */
  imported?: boolean;
}

export interface PlanSummary {
  formatVersion: string;
  engineVersion: string;
  /** Always complete, even when `changes` is cut. */
  counts: PlanCounts;
  /** In LISTING_ORDER (destroys and forgets first); plan order within each group. */
  changes: ListedChange[];
  /** `changes.length`; at most the builder's `maxListed`. */
  listed: number;
  /** Everything applying the plan does: every listed change, counted once. */
  total: number;
  errored: boolean;
  /**
   * What changed outside of the engine since the last apply (the plan JSON's `resource_drift`), apart from
   * what the code itself changes. Only when the plan reported any drift.
   */
  drift?: DriftSummary;
}

/** Objects the refresh found changed (`update`) or gone (`delete`) outside of the engine. */
export interface DriftSummary {
  changes: Array<{ address: string; action: 'update' | 'delete' }>;
  /** `changes.length`; at most the builder's `maxListed`. */
  listed: number;
  /** Every drifted object, even when `changes` is cut. */
  total: number;
}

/** none: nothing to apply · auto: no tap · approve: one tap · confirm: two taps · deny: never applied */
export const TIERS = ['none', 'auto', 'approve', 'confirm', 'deny'] as const;
export type Tier = (typeof TIERS)[number];

export interface FingerprintInputs {
  treeId: string;
  planSha256: string;
  /** sha256 of the runner config file's bytes (`LoadedConfig.hash`). */
  configHash: string;
  policyHash: string;
  engineVersion: string;
  /** sha256 of the workspace's `.terraform.lock.hcl` after init, or "none". */
  lockFileHash: string;
}

export interface RunFingerprint extends FingerprintInputs {
  sha256: string;
}

