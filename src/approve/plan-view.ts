// What the approver is shown, kept where Redis cannot reach: the plan job writes it into the run's job
// directory once the last engine process of the plan has exited, from the summary it has just read out of
// the plan file. Every request text is rendered from this file, its sha256 goes into the approval binding,
// and a decision counts only if the same file still renders to the same text. A copy of the summary in a
// Redis run record is for listings; nothing a human decides on is taken from it.
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { planSummarySchema, runIdSchema } from '../run/run-schema.ts';
import type { Run } from '../run/run.ts';
import { AirlockError } from '../errors.ts';
import type { PlanSummary } from '../plan/summary.ts';
import { TIERS, type Tier } from '../policy/policy.ts';
import { renderPhoneConfirm, renderPhoneRequest } from './phone-summary.ts';

export interface PlanView {
  runId: string;
  repo: string;
  workspace: string;
  pr: number | null;
  sha: string;
  author?: string;
  planSha256: string;
  tier: Tier;
  reasons: string[];
  summary: PlanSummary;
}

/** The exact text a request carries: what the approver reads before tapping. */
export interface ApprovalText {
  title: string;
  message: string;
}

const MAX_VIEW_BYTES = 64 * 1024 * 1024;

const viewSchema = z.strictObject({
  v: z.literal(1),
  runId: runIdSchema,
  repo: z.string().max(100),
  workspace: z.string().max(100),
  pr: z.number().int().nonnegative().nullable(),
  sha: z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/),
  author: z.string().max(1024).optional(),
  planSha256: z.string().regex(/^[0-9a-f]{64}$/),
  tier: z.enum(TIERS),
  reasons: z.array(z.string()),
  summary: planSummarySchema,
});

export class PlanViewError extends AirlockError {
  constructor(runId: string, why: string) {
    super('airlock:plan-view', `the plan shown for run ${runId} cannot be used: ${why}`, {
      hint: 'Nothing was sent or decided. The run expires unanswered; push a new commit to plan again.',
    });
  }
}

/** The view of a run the plan job has just planned, from what it computed itself. */
export function planViewOf(run: Pick<Run, 'id' | 'repo' | 'workspace' | 'pr' | 'sha' | 'author'>, plan: { sha256: string; tier: Tier; reasons: string[]; summary: PlanSummary }): PlanView {
  return {
    runId: run.id,
    repo: run.repo,
    workspace: run.workspace,
    pr: run.pr,
    sha: run.sha,
    ...(run.author !== undefined ? { author: run.author } : {}),
    planSha256: plan.sha256,
    tier: plan.tier,
    reasons: plan.reasons,
    summary: plan.summary,
  };
}

/** Write the view (0600) under a fresh name and rename it into place: a link planted at `file` is replaced, never followed. */
export async function writePlanView(file: string, view: PlanView): Promise<void> {
  const temp = path.join(path.dirname(file), `.plan-view-${randomBytes(8).toString('hex')}`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(JSON.stringify({ v: 1, ...view }));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file).catch(async (err: unknown) => {
    await rm(temp, { force: true });
    throw err;
  });
}

/** The view of `runId`, or null when its job directory holds none; a file that is not a view of this run throws. */
export async function readPlanView(file: string, runId: string): Promise<PlanView | null> {
  let text: string;
  try {
    const handle = await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      if ((await handle.stat()).size > MAX_VIEW_BYTES) throw new PlanViewError(runId, 'the view file is too large');
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if (err instanceof PlanViewError) throw err;
    throw new PlanViewError(runId, `the view file cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new PlanViewError(runId, 'the view file is not JSON');
  }
  const parsed = viewSchema.safeParse(raw);
  if (!parsed.success) throw new PlanViewError(runId, 'the view file is not a plan view');
  const { v: _v, ...view } = parsed.data;
  if (view.runId !== runId) throw new PlanViewError(runId, `the view file belongs to run ${view.runId}`);
  // Checked above; zod's output type does not spell out PlanCounts' later keys.
  return view as unknown as PlanView;
}

/** The request text for a view: the phone rendering, the same for every channel so the binding is too. */
export function renderApprovalText(view: PlanView, expiresAt: Date, phase: 'approve' | 'confirm'): ApprovalText {
  const ctx = { repo: view.repo, workspace: view.workspace, pr: view.pr, sha: view.sha, planSha256: view.planSha256, author: view.author, runId: view.runId, reasons: view.reasons, expiresAt };
  return phase === 'confirm' ? renderPhoneConfirm(view.summary, ctx) : renderPhoneRequest(view.summary, ctx);
}

/** sha256 of exactly the title and message sent. */
export function approvalTextSha256(text: ApprovalText): string {
  return createHash('sha256').update(text.title).update('\0').update(text.message).digest('hex');
}

/** Pure: why `view` does not back a request made for this plan, or null when it does. */
export function viewMismatch(view: PlanView | null, expected: { runId: string; planSha256: string; tier?: Tier }): string | null {
  if (view === null) return 'the plan view is gone from the runner (its job directory was removed)';
  if (view.runId !== expected.runId) return 'the plan view belongs to another run';
  if (view.planSha256 !== expected.planSha256) return 'the plan view is of a different plan file';
  if (expected.tier !== undefined && view.tier !== expected.tier) return 'the plan view has a different risk tier';
  return null;
}

/** The run as the runner planned it: identity, plan hash, tier, reasons and summary from the view. */
export function runAsViewed(run: Run, view: PlanView): Run {
  const plan = run.plan ? { ...run.plan, sha256: view.planSha256, tier: view.tier, reasons: view.reasons, summary: view.summary } : undefined;
  return { ...run, repo: view.repo, workspace: view.workspace, pr: view.pr, sha: view.sha, ...(view.author !== undefined ? { author: view.author } : {}), ...(plan ? { plan } : {}) };
}
