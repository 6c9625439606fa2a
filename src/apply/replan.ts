// `airlock replan RUN`: a new attempt at the same head, when a plan ended for a reason outside the commit
// (a wrong engine path since fixed, a provider API that was down, applies switched on since). Sightings
// keep their fixed id, so watching never plans a head twice; only an operator on the runner host asks
// for another attempt, and it is audited with their OS user.
import type { AuditLog } from '../audit/audit-log.ts';
import { describeRun } from '../run/describe.ts';
import type { RunnerConfig } from '../config/schema.ts';
import { AirlockError } from '../errors.ts';
import type { RunStore } from '../run/run-store.ts';
import { isFinal, runIdOf, type Actor, type Run } from '../run/run.ts';

/** A replan that changed nothing. */
export class ReplanRefusedError extends AirlockError {
  constructor(runId: string, reason: string, hint: string) {
    super('airlock:replan-refused', `cannot replan run ${runId}: ${reason}`, { hint });
  }
}

/** Pure: why `run` may not be planned again, with what to do instead; null when it may. */
export function replanProblem(run: Run, latestForPr: string | null, config: Pick<RunnerConfig, 'repos'>): { reason: string; hint: string } | null {
  if (!isFinal(run.state)) return { reason: `it is ${run.state}, not finished`, hint: `Wait for it to end (\`airlock show ${run.id}\`), or cancel it first (\`airlock cancel ${run.id}\`).` };
  if (run.state === 'applied') return { reason: 'it was applied', hint: 'Its changes are in the state; push a new commit to change more.' };
  if (run.replannedBy) return { reason: `it was already replanned as ${run.replannedBy}`, hint: `Replan the newest attempt: \`airlock replan ${run.replannedBy}\`.` };
  if (run.state === 'superseded' || (latestForPr !== null && latestForPr !== run.id)) {
    return { reason: `a newer head${latestForPr ? ` (run ${latestForPr})` : ''} replaced it: an older commit is never planned for approval again`, hint: 'Replan the newest run of the pull request instead.' };
  }
  const repo = config.repos.find((r) => r.name === run.repo);
  if (!repo?.workspaces.some((w) => w.name === run.workspace)) {
    return { reason: `repo ${run.repo} workspace ${run.workspace} is not in this runner config`, hint: 'Replan with the config of the runner that watches it (--config).' };
  }
  return null;
}

/** Pure: the next attempt at `run`'s head, ready to plan. */
export function nextAttempt(run: Run, now = new Date()): Run {
  const attempt = (run.attempt ?? 1) + 1;
  return {
    id: runIdOf({ ...run, attempt }),
    repo: run.repo,
    ref: run.ref,
    pr: run.pr,
    sha: run.sha,
    workspace: run.workspace,
    state: 'planning',
    version: 1,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    attempt,
    replanOf: run.id,
    ...(run.kind === 'drift' ? { kind: run.kind, driftSlot: run.driftSlot! } : {}),
  };
}

/** The attempt that plans a head now: follow `replannedBy` from the sighting's run. */
export async function currentAttempt(runs: Pick<RunStore, 'find'>, runId: string): Promise<string> {
  let id = runId;
  for (let hops = 0; hops < 1000; hops++) {
    const next = (await runs.find(id))?.replannedBy;
    if (!next) return id;
    id = next;
  }
  return id;
}

export interface ReplanDeps {
  config: Pick<RunnerConfig, 'repos'>;
  runs: RunStore;
  audit: AuditLog;
  enqueuePlan(runId: string): Promise<void>;
}

/** Create and queue a new attempt at `runId`'s head; refusals are audited too, and change nothing else. */
export async function replanRun(deps: ReplanDeps, runId: string, by: Actor, reason?: string): Promise<Run> {
  const previous = await deps.runs.get(runId);
  const refuse = async (problem: { reason: string; hint: string }): Promise<never> => {
    await deps.audit.append({ type: 'run.replan_refused', ...describeRun(previous), actor: by, detail: { reason: problem.reason, ...(reason ? { note: reason } : {}) } });
    throw new ReplanRefusedError(runId, problem.reason, problem.hint);
  };
  const problem = replanProblem(previous, await deps.runs.latestFor(previous), deps.config);
  if (problem) return refuse(problem);
  const next = nextAttempt(previous);
  const outcome = await deps.runs.createAttempt(previous, next);
  if (outcome !== 'created') return refuse({ reason: outcome === 'not-latest' ? 'a newer head replaced it meanwhile' : 'someone else replanned it meanwhile', hint: `See \`airlock show ${runId}\`.` });
  await deps.audit.append({
    type: 'run.replanned',
    ...describeRun(next),
    actor: by,
    detail: { replanOf: previous.id, attempt: next.attempt, previousState: previous.state, ...(previous.error ? { previousError: previous.error.code } : {}), ...(reason ? { note: reason } : {}) },
  });
  await deps.enqueuePlan(next.id);
  return next;
}
