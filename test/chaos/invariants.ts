// The checks after each round, from what the processes left behind: the engine double's invocation log
// (every apply, with the sha256 of the plan file it was given), every runner's audit chains (verified),
// the runs in Redis once everything settled, what the driver was told when it decided, and what the
// runners logged. A world's rounds are checked on everything so far; a round reports what is new.
import path from 'node:path';
import type { AuditRecord } from '../../src/audit/audit.ts';
import { RECORD_TYPES } from '../../src/audit/audit.ts';
import { approvalMismatch, checkChain, type ChainRecord } from '../../src/audit/check.ts';
import { readVerifiedRecords } from '../../src/audit/verify-files.ts';
import { RECOVERY_BOUND_MS, RECOVERY_CAP_MS, type Invocation, type World } from './world.ts';

export const INVARIANTS = ['unapproved-apply', 'double-apply', 'audit-chain', 'lost', 'decision-lost', 'one-decision', 'redis-loss', 'full-disk'] as const;
export type Invariant = (typeof INVARIANTS)[number];

export interface Violation {
  invariant: Invariant;
  detail: string;
}

/** Audit records of an apply's outcome, or of the run leaving before it: an acknowledged approval ends in one. */
const DECISION_OUTCOMES = new Set(['apply.finished', 'apply.failed', 'apply.refused', 'apply.needs_attention', 'run.superseded', 'run.restored']);
const NOTICE_TITLE = 'Airlock: Redis lost its data';

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

/** Every violation in the world so far; `withoutRogues` leaves out the negative controls' own applies. */
export async function checkWorld(world: World, opts: { withoutRogues?: boolean; settled?: boolean } = {}): Promise<Violation[]> {
  const v: Violation[] = [];
  const { records: chained, broken } = await readAllChains(world);
  const records = chained.map((r) => r.record);
  for (const b of broken) v.push({ invariant: 'audit-chain', detail: `chain does not verify: ${b}` });
  for (const f of checkChain(chained, { configuredChannel: world.spec.channel })) {
    if (f.kind === 'apply-without-approval' || f.kind === 'approval-after-expiry') v.push({ invariant: 'unapproved-apply', detail: `audit check: ${f.message}` });
  }
  const applies = (await world.invocations('apply')).filter((inv) => !(opts.withoutRogues && isRogue(inv)));
  v.push(...checkApplies(applies, records, world.wipes));
  v.push(...checkRecordedApplies(applies, records));
  v.push(...checkDecisions(world, records));
  v.push(...checkOneDecision(records));
  v.push(...(await checkRedisLoss(world, chained)));
  if (opts.settled !== false) v.push(...checkSettled(world));
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

/**
 * Invariant 6: nothing is applied that is not on the record first. Every engine apply follows an
 * `apply.started` of its plan on a verified chain; a chain that could not take that record (a full or
 * read-only disk) leaves the run approved, and nothing runs.
 */
export function checkRecordedApplies(applies: Invocation[], records: AuditRecord[]): Violation[] {
  const v: Violation[] = [];
  for (const inv of applies) {
    if (!inv.planSha256) continue;
    if (!records.some((r) => r.type === RECORD_TYPES.applyStarted && r.plan?.sha256 === inv.planSha256 && r.time <= inv.time)) {
      v.push({ invariant: 'full-disk', detail: `plan ${inv.planSha256.slice(0, 12)} applied at ${inv.time} with no apply.started of it on the record` });
    }
  }
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
    const ended = records.some((r) => r.run === d.runId && DECISION_OUTCOMES.has(r.type));
    if (!ended) v.push({ invariant: 'decision-lost', detail: `acknowledged approval of ${d.runId} led to no apply and no audited refusal, failure or restore` });
  }
  return v;
}

/** Racing and repeated taps: one decision per run and plan, never both ways, never two approvals. */
function checkOneDecision(records: AuditRecord[]): Violation[] {
  const decided = new Map<string, string[]>();
  for (const r of records) {
    if ((r.type !== RECORD_TYPES.approvalGranted && r.type !== RECORD_TYPES.approvalDenied) || r.run === null) continue;
    const k = `${r.run} ${r.plan?.sha256 ?? ''}`;
    decided.set(k, [...(decided.get(k) ?? []), r.type]);
  }
  return [...decided].filter(([, types]) => types.length > 1).map(([k, types]) => ({ invariant: 'one-decision' as const, detail: `${k.slice(0, 30)}: ${types.join(', ')}` }));
}

/**
 * Invariant 5 beyond the applies: after Redis lost its keys no head already planned is planned again once
 * its planner had restored its runs (or by that planner itself), and each runner tells the approvers at
 * most once per loss.
 */
async function checkRedisLoss(world: World, chained: ChainRecord[]): Promise<Violation[]> {
  const v: Violation[] = [];
  for (const wipe of world.wipes) {
    const at = new Date(wipe).toISOString();
    const plannedBefore = new Map<string, string>(); // run id → the chain's runner that planned it
    for (const { chain, record } of chained) if (record.type === 'plan.started' && record.run && record.time < at) plannedBefore.set(record.run, chain.split('/')[0]!);
    const next = world.wipes.find((w) => w > wipe) ?? Infinity;
    for (const { chain, record } of chained) {
      if (record.type !== 'run.sighted' || !record.run || record.time < at || Date.parse(record.time) > next) continue;
      const planner = plannedBefore.get(record.run);
      if (!planner) continue;
      const restored = chained.find((c) => c.chain.startsWith(`${planner}/`) && c.record.type === 'redis.rebuilt' && c.record.time >= at && c.record.time <= record.time);
      if (restored || chain.startsWith(`${planner}/`)) v.push({ invariant: 'redis-loss', detail: `${record.run} planned before the loss at ${at} was sighted and planned again by ${chain.split('/')[0]}` });
    }
  }
  for (const slot of world.slots) {
    const notices = slot.events.get('channel.notice') ?? 0;
    if (notices > world.wipes.length) v.push({ invariant: 'redis-loss', detail: `${slot.id} sent ${notices} notices for ${world.wipes.length} loss(es)` });
  }
  if (world.ntfy) {
    const notices = (await world.ntfy.notifications('alice').catch(() => [])).filter((m) => m.title === NOTICE_TITLE).length;
    if (notices > world.wipes.length * world.slots.length) v.push({ invariant: 'redis-loss', detail: `${notices} notices on the phone for ${world.wipes.length} loss(es) and ${world.slots.length} runner(s)` });
  }
  return v;
}

/** Invariant 4: every head reached a final or waiting state within the bound (with a run, restored or new). */
function checkSettled(world: World): Violation[] {
  if (world.recoveryMs !== null) return [];
  const runs = world.finalRuns;
  if (!runs) return [{ invariant: 'lost', detail: `Redis did not answer after recovery` }];
  const open = runs.filter((r) => !['awaiting_approval', 'no_changes', 'planned', 'refused', 'denied', 'expired', 'superseded', 'applied', 'failed', 'needs_attention'].includes(r.state));
  const unseen = world.forgottenHeads(runs);
  const undecided = runs.filter((r) => r.state === 'awaiting_approval' && !world.driver.done([r]));
  return [
    {
      invariant: 'lost',
      detail: `no progress for ${RECOVERY_BOUND_MS / 1000}s (or not settled ${RECOVERY_CAP_MS / 1000}s) after the last fault: ${[...open.map((r) => `${r.id} ${r.state}`), ...unseen.map((s) => `head ${s.slice(0, 10)} has no run`), ...undecided.map((r) => `${r.id} undecided`)].join(', ')}`,
    },
  ];
}
