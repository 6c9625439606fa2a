// The checks after an iteration, from what the processes left behind: the engine double's invocation log
// (every apply, with the sha256 of the plan file it was given), every runner's audit chains (verified),
// the runs in Redis once everything settled, and what the driver was told when it decided.
import path from 'node:path';
import type { AuditRecord } from '../../src/audit/audit.ts';
import { RECORD_TYPES } from '../../src/audit/audit.ts';
import { approvalMismatch, checkChain, type ChainRecord } from '../../src/audit/check.ts';
import { readVerifiedRecords } from '../../src/audit/verify-files.ts';
import { RECOVERY_BOUND_MS, type Invocation, type World } from './world.ts';

export const INVARIANTS = ['unapproved-apply', 'double-apply', 'audit-chain', 'lost', 'decision-lost'] as const;
export type Invariant = (typeof INVARIANTS)[number];

export interface Violation {
  invariant: Invariant;
  detail: string;
}

/** Audit records of an apply's outcome, or of the run leaving before it: an acknowledged approval ends in one. */
const DECISION_OUTCOMES = new Set(['apply.finished', 'apply.failed', 'apply.refused', 'apply.needs_attention', 'run.superseded']);

export async function readAllChains(world: World): Promise<{ records: ChainRecord[]; broken: string[] }> {
  const records: ChainRecord[] = [];
  const broken: string[] = [];
  for (const slot of world.slots) {
    const got = await readVerifiedRecords(path.join(slot.dataDir, 'audit'));
    // Chain names are per writer and runner id; keep them apart across data dirs.
    records.push(...got.records.map((r) => ({ chain: `${slot.id}/${r.chain}`, record: r.record })));
    for (const report of got.reports) if (!report.result.ok) broken.push(`${slot.id}/${report.chain}: ${JSON.stringify(report.result.break)}`);
  }
  return { records, broken };
}

/** Whether an engine invocation was a negative control's rogue apply (breaks.ts), not a runner's. */
export function isRogue(inv: Invocation): boolean {
  return path.basename(inv.cwd).startsWith('rogue-');
}

/** Every violation; `withoutRogues` leaves out the negative controls' own applies (the run underneath them). */
export async function checkWorld(world: World, opts: { withoutRogues?: boolean } = {}): Promise<Violation[]> {
  const v: Violation[] = [];
  const { records, broken } = await readAllChains(world);
  for (const b of broken) v.push({ invariant: 'audit-chain', detail: `chain does not verify: ${b}` });
  for (const f of checkChain(records, { configuredChannel: 'terminal' })) {
    if (f.kind === 'apply-without-approval' || f.kind === 'approval-after-expiry') v.push({ invariant: 'unapproved-apply', detail: `audit check: ${f.message}` });
  }
  const applies = (await world.invocations('apply')).filter((inv) => !(opts.withoutRogues && isRogue(inv)));
  v.push(...checkApplies(applies, records.map((r) => r.record), world.wipes));
  v.push(...checkDecisions(world, records.map((r) => r.record)));
  v.push(...checkSettled(world));
  return v;
}

/** Invariants 1, 2 and 5 from the engine's side: each plan file applied at most once, and only after an approval of exactly those bytes. */
export function checkApplies(applies: Invocation[], records: AuditRecord[], wipes: number[]): Violation[] {
  const v: Violation[] = [];
  const perPlan = new Map<string, number>();
  for (const inv of applies) {
    const sha = inv.planSha256;
    if (!sha) {
      v.push({ invariant: 'unapproved-apply', detail: `engine apply without a readable plan file: ${inv.argv.join(' ')} in ${inv.cwd}` });
      continue;
    }
    perPlan.set(sha, (perPlan.get(sha) ?? 0) + 1);
    const approvals = records.filter(
      (r) => r.type === RECORD_TYPES.approvalGranted && r.time <= inv.time && r.run !== null && approvalMismatch(r, { run: r.run, sha: r.subject?.sha ?? '', planSha256: sha }) === null,
    );
    if (approvals.length === 0) {
      v.push({ invariant: 'unapproved-apply', detail: `plan ${sha.slice(0, 12)} applied at ${inv.time} with no approval of it on a verified chain` });
      continue;
    }
    // After Redis lost every key, only a decision taken before the loss and already acted on may still apply.
    const invAt = Date.parse(inv.time);
    const lostBefore = wipes.filter((w) => w < invAt);
    if (lostBefore.length > 0) {
      const wipe = Math.max(...lostBefore);
      const fresh = approvals.some((a) => Date.parse(a.time) > wipe);
      const startedBefore = records.some((r) => r.type === RECORD_TYPES.applyStarted && r.plan?.sha256 === sha && Date.parse(r.time) < wipe);
      if (!fresh && !startedBefore) v.push({ invariant: 'unapproved-apply', detail: `plan ${sha.slice(0, 12)} applied after Redis lost its keys, on an approval from before the loss` });
    }
  }
  for (const [sha, n] of perPlan) if (n > 1) v.push({ invariant: 'double-apply', detail: `plan ${sha.slice(0, 12)} given to the engine's apply ${n} times` });
  return v;
}

/** Invariants 3 and 4 for decisions: an acknowledged decision stays on the record and ends the run explicitly. */
function checkDecisions(world: World, records: AuditRecord[]): Violation[] {
  const v: Violation[] = [];
  for (const d of world.driver.decisions.values()) {
    if (d.code !== 0 || d.decision === 'leave') continue;
    const type = d.decision === 'approve' ? RECORD_TYPES.approvalGranted : RECORD_TYPES.approvalDenied;
    if (!records.some((r) => r.type === type && r.run === d.runId && r.plan?.sha256 === d.planSha256)) {
      v.push({ invariant: 'decision-lost', detail: `acknowledged ${d.decision} of ${d.runId} is not on any verified chain` });
      continue;
    }
    if (d.decision !== 'approve') continue;
    const wipedAfter = world.wipes.some((w) => w > d.at - 1000);
    const ended = records.some((r) => r.run === d.runId && DECISION_OUTCOMES.has(r.type));
    if (!ended && !wipedAfter) v.push({ invariant: 'decision-lost', detail: `acknowledged approval of ${d.runId} led to no apply and no audited refusal or failure` });
  }
  return v;
}

/** Invariant 4: every head reached a final or waiting state within the bound. */
function checkSettled(world: World): Violation[] {
  if (world.recoveryMs !== null) return [];
  const runs = world.finalRuns;
  if (!runs) return [{ invariant: 'lost', detail: `Redis did not answer after recovery` }];
  const open = runs.filter((r) => !['awaiting_approval', 'no_changes', 'planned', 'refused', 'denied', 'expired', 'superseded', 'applied', 'failed', 'needs_attention'].includes(r.state));
  const unseen = world.wipes.length > 0 ? [] : world.forgottenHeads(runs);
  const undecided = runs.filter((r) => r.state === 'awaiting_approval' && !world.driver.done([r]));
  return [
    {
      invariant: 'lost',
      detail: `not settled ${RECOVERY_BOUND_MS / 1000}s after the last fault: ${[...open.map((r) => `${r.id} ${r.state}`), ...unseen.map((s) => `head ${s.slice(0, 10)} never planned`), ...undecided.map((r) => `${r.id} undecided`)].join(', ')}`,
    },
  ];
}
