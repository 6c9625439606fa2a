// The run: one (repo, workspace, sha) from sighting to a final state. This file owns the entity and its
// pure transitions; effects live in run-store.ts and the job steps.
import { createHash } from 'node:crypto';
import { AirlockError } from '../errors.ts';
import type { PlanSummary, RunFingerprint, Tier } from './plan-record.ts';

export const RUN_STATES = [
  'planning',
  'awaiting_approval',
  'approved',
  'applying',
  'no_changes',
  'planned',
  'refused',
  'denied',
  'expired',
  'superseded',
  'cancelled',
  'skipped',
  'applied',
  'failed',
  'needs_attention',
] as const;
export type RunState = (typeof RUN_STATES)[number];

/**
 * Allowed transitions. Beyond the core table: a plan can fail, be superseded while planning, or end
 * `planned` when applies are switched off; an approved run that has not started applying is superseded by
 * a newer head, so nothing older than the PR's head is ever applied. The policy decides some plans without
 * a human: `auto` goes straight to approved, `deny` straight to denied. An operator can cancel a run
 * (`airlock cancel`) up to the point of no return: never once it is applying. A drift check that finds
 * the workspace lock held (an apply under way) is `skipped` for that slot (`drift.whenLocked`).
 */
const TRANSITIONS: Record<RunState, readonly RunState[]> = {
  planning: ['no_changes', 'planned', 'refused', 'awaiting_approval', 'approved', 'denied', 'failed', 'superseded', 'cancelled', 'skipped'],
  awaiting_approval: ['approved', 'denied', 'expired', 'superseded', 'cancelled'],
  approved: ['applying', 'superseded', 'failed', 'cancelled'],
  applying: ['applied', 'failed', 'needs_attention'],
  no_changes: [],
  planned: [],
  refused: [],
  denied: [],
  expired: [],
  superseded: [],
  cancelled: [],
  skipped: [],
  applied: [],
  failed: [],
  needs_attention: [],
};

/** A run plans a pull request's (or branch's) head, or checks a workspace for drift on a schedule. */
export const RUN_KINDS = ['pr', 'drift'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

export type ActorKind = 'agent' | 'human' | 'runner';
export interface Actor {
  kind: ActorKind;
  id: string;
}

export interface RunPlan {
  sha256: string;
  summary: PlanSummary;
  tier: Tier;
  reasons: string[];
  engineVersion: string;
  treeId: string;
  /** The runner that planned, and so holds the plan file: only it may apply. */
  runnerId?: string;
}

export interface RunDecision {
  decision: 'approve' | 'deny';
  by: Actor;
  channel: string;
  breakGlass: boolean;
  at: string;
  planSha256: string;
}

export interface Run {
  id: string;
  repo: string;
  ref: string;
  pr: number | null;
  sha: string;
  workspace: string;
  state: RunState;
  /** Optimistic-concurrency counter; every stored change increments it. */
  version: number;
  createdAt: string;
  updatedAt: string;
  /** Who pushed the head, from the commit's author (filled during checkout). */
  author?: string;
  /** The head commit's committer, `Name <email>`. */
  committer?: string;
  /** The agent principal the author or committer maps to in `audit.agents`; null when none does. */
  agent?: string | null;
  /** One sha256 over commit tree, plan bytes, config, policy, engine and provider lock (audit/fingerprint.ts). */
  fingerprint?: RunFingerprint;
  plan?: RunPlan;
  approval?: {
    requestedAt: string;
    expiresAt: string;
    tier: Tier;
    channel: string;
    /** 'confirm' once the first Approve of a destructive plan is in and the second tap is awaited. */
    phase?: 'approve' | 'confirm';
    /** Who gave the first Approve of a two-tap decision. */
    firstApproval?: { by: Actor; at: string };
    /** Not yet sent: the runner's cap on pending requests was reached (approval.maxPending). */
    held?: boolean;
  };
  decision?: RunDecision;
  apply?: { startedAt: string; finishedAt?: string; fence: number; runnerId: string; host: string; pid: number };
  /** `tail`: the last lines of the engine's output, scrubbed, so the operator sees the engine's own error. */
  error?: { code: string; message: string; tail?: string };
  attention?: { reason: string; lockId?: string; outputTail?: string };
  refusal?: string[];
  supersededBy?: string;
  /** An operator stopped the run before its apply (`airlock cancel`): who, when and why. */
  cancelled?: { by: Actor; at: string; reason?: string };
  /** Why the run was superseded when no newer run replaced it (the ref was deleted, say). */
  supersededReason?: string;
  /**
   * Which plan of this head this is: absent (1) for the sighting, 2 and up for each `airlock replan`.
   * Not the queue's retry count (`plan.started` detail.attempt).
   */
  attempt?: number;
  /** The run this one plans again (`airlock replan`). */
  replanOf?: string;
  /** The run that plans this head again; set once, so a head is replanned from its latest attempt only. */
  replannedBy?: string;
  /** `drift`: planned on a schedule to find what changed outside of Airlock. Absent on PR runs. */
  kind?: RunKind;
  /** The drift schedule's slot (or the time of `airlock drift`) this run checks; drift runs only. */
  driftSlot?: string;
  /**
   * The run's trace (W3C `traceparent`: its trace id and the span id of the run's own span), set by the first
   * plan job when traces are on, so the decision and the apply, in other jobs and processes, join that trace.
   */
  traceparent?: string;
  /** Drift runs with changes: whether the approvers were told (the drift is new) or not (seen before). */
  driftNotice?: DriftNotice;
  /** Drift runs that found the workspace lock held: whether they waited for it or skipped the slot. */
  driftLock?: DriftLockOutcome;
  /** Stored again from the audit chain after Redis lost its data (restore-rules.ts): when, and from which record. */
  restored?: { at: string; lastRecord: { type: string; time: string; seq: number }; recordedState: RunState };
}

/** Quiet by default: the same drift (fingerprint of addresses, actions and attribute paths) is told once. */
export interface DriftNotice {
  outcome: 'notified' | 'suppressed';
  reason: string;
  /** sha256 over the drifted addresses, actions and attribute paths, and the plan's own changes; never a value. */
  fingerprint: string;
}

/** What a drift run did about a held workspace lock (`drift.whenLocked`). */
export interface DriftLockOutcome {
  whenLocked: 'skip' | 'wait';
  outcome: 'waited' | 'skipped';
  /** Who held it, as the lock names its holder. */
  holder: string | null;
  waitedMs: number;
}

export const FINAL_STATES: ReadonlySet<RunState> = new Set(RUN_STATES.filter((s) => TRANSITIONS[s].length === 0));

/**
 * The run id for (repo, workspace, sha): the same triple always yields the same id, on every replica, so
 * a sighting never plans twice. `airlock replan` numbers further attempts at the same head; attempt 1 is
 * the sighting's id, so ids of runs from before replans existed stay the same.
 */
export function deriveRunId(repo: string, workspace: string, sha: string, attempt = 1, driftSlot?: string): string {
  const triple = `${repo}\0${workspace}\0${sha}`;
  const drift = driftSlot === undefined ? '' : `\0drift ${driftSlot}`;
  return `r${createHash('sha256').update(`${attempt === 1 ? triple : `${triple}\0attempt ${attempt}`}${drift}`).digest('hex').slice(0, 15)}`;
}

/** The run id of any stored run: a drift run's slot is part of its identity. */
export function runIdOf(run: Pick<Run, 'repo' | 'workspace' | 'sha' | 'attempt' | 'kind' | 'driftSlot'>): string {
  return deriveRunId(run.repo, run.workspace, run.sha, run.attempt ?? 1, run.kind === 'drift' ? (run.driftSlot ?? '') : undefined);
}

/** The key under which runs of one PR (or branch) and workspace supersede each other. */
export function supersedeKey(run: Pick<Run, 'repo' | 'pr' | 'ref' | 'workspace' | 'kind'>): string {
  // Drift runs supersede only each other: a PR run never replaces a drift run, nor the other way round.
  const line = run.kind === 'drift' ? `drift\0${run.ref}` : run.pr === null ? run.ref : `pr${run.pr}`;
  return `${run.repo}\0${line}\0${run.workspace}`;
}

export function canTransition(from: RunState, to: RunState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function isFinal(state: RunState): boolean {
  return FINAL_STATES.has(state);
}

export class IllegalTransitionError extends AirlockError {
  constructor(run: Pick<Run, 'id' | 'state'>, to: RunState) {
    super('airlock:illegal-transition', `run ${run.id} cannot go from ${run.state} to ${to}`, {
      hint: `Check the run with \`airlock show ${run.id}\`; it has probably already been decided or superseded.`,
    });
  }
}

/** Pure: the run after moving to `to` with `patch` applied; throws when the move is not allowed. */
export function transition(run: Run, to: RunState, patch: Partial<Run> = {}, now = new Date()): Run {
  if (!canTransition(run.state, to)) throw new IllegalTransitionError(run, to);
  return { ...run, ...patch, state: to, updatedAt: now.toISOString() };
}
