// `airlock runs`, `show`, `approve`, `deny`, `replan`: reading, deciding and re-planning runs from the
// runner host. Reading opens no audit chain and takes no lock; deciding and re-planning are audited.
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline/promises';
import pino from 'pino';
import { replanRun } from '../apply/replan.ts';
import type { Run } from '../run/run.ts';
import { confirmationCount, confirmationReason } from '../approve/confirmation.ts';
import { readPlanView, runAsViewed } from '../approve/plan-view.ts';
import { SANDBOX_OFF_WARNING } from '../engine/config.ts';
import { parseRunId } from '../run/run-schema.ts';
import { RunNotFoundError } from '../run/run-store.ts';
import { readAuditRecords } from '../audit/read-audit.ts';
import { loadConfig } from '../config/load.ts';
import { AirlockError } from '../errors.ts';
import { colorAllowed } from '../log/color.ts';
import { renderShortCounts, renderSummaryText } from '../plan/render.ts';
import { flaggedText, visibleText } from '../lib/untrusted-text.ts';
import { openControlPlane, openRunReader, type ControlPlane, type RunReader } from '../runner/control-plane.ts';
import { probeRedis } from '../runner/preflight.ts';
import { wireReporting } from '../runner/report-wiring.ts';
import { redisTargetFor } from '../queue/redis-connection.ts';
import { scrubber } from '../log/scrub.ts';
import { renderJson, type Output } from './output.ts';
import { driftDetailLines } from './drift-show.ts';
import { hostDetailLines } from './show-values.ts';

/** Open the control plane for one CLI command that writes (decide, replan) and always close it. */
export async function withControlPlane<T>(configFile: string, fn: (cp: ControlPlane) => Promise<T>): Promise<T> {
  const loaded = await loadConfig(configFile);
  await probeRedis(await redisTargetFor(loaded, scrubber), loaded.file);
  const log = pino({ level: 'silent' });
  const cp = await openControlPlane(loaded, { writer: 'cli', log });
  // A decision taken here reaches the forge too; a broken forge setup never stops the decision.
  const reporting = await wireReporting(loaded, { transitions: cp.transitions, runs: cp.runs, redis: cp.redis, log }).catch(() => null);
  try {
    return await fn(cp);
  } finally {
    await cp.transitions.idle();
    if (reporting) {
      await Promise.race([reporting.reporter.idle(), new Promise((r) => setTimeout(r, REPORT_WAIT_MS).unref())]);
      await reporting.stop(100);
    }
    await cp.close();
  }
}

/** How long a CLI decision waits for its report to reach the forge before exiting (the runner's next report catches up). */
const REPORT_WAIT_MS = 5_000;

/** Open a read-only view of the runs for `runs` and `show`: no chain file, no lock, no Redis writes. */
export async function withRunReader<T>(configFile: string, fn: (reader: RunReader) => Promise<T>): Promise<T> {
  const loaded = await loadConfig(configFile);
  await probeRedis(await redisTargetFor(loaded, scrubber), loaded.file);
  const reader = await openRunReader(loaded);
  try {
    return await fn(reader);
  } finally {
    reader.close();
  }
}

/** One line per run, newest first. */
export function renderRunLine(run: Run): string {
  const changes = run.plan ? renderShortCounts(run.plan.summary) : '';
  const pr = run.pr === null ? visibleText(run.ref, 40) : `PR #${run.pr}`;
  const attempt = run.attempt ? `attempt ${run.attempt}` : '';
  const drift = run.kind === 'drift' ? `drift${run.plan?.summary.drift ? ` (${run.plan.summary.drift.total} drifted)` : ''}` : '';
  return [run.id, run.state.padEnd(17), `${visibleText(run.repo)}/${visibleText(run.workspace)}`, pr, drift, run.sha.slice(0, 10), attempt, changes, run.createdAt]
    .filter(Boolean)
    .join('  ');
}

export async function listRuns(cp: RunReader, output: Output, json: boolean, kind?: string): Promise<number> {
  const runs = (await cp.runs.list(100)).filter((r) => kind === undefined || (r.kind ?? 'pr') === kind);
  if (json) {
    output.out(renderJson(runs));
    return 0;
  }
  if (runs.length === 0) output.out('no runs yet');
  for (const run of runs) output.out(renderRunLine(run));
  return 0;
}

/** Everything about one run a human needs before deciding. */
export async function renderRunDetail(cp: RunReader, run: Run, tty: boolean): Promise<string> {
  const color = tty && colorAllowed();
  const lines = [`run ${run.id}: ${run.state}`, `  ref ${flaggedText(run.ref)}  sha ${run.sha}  created ${run.createdAt}`];
  if (run.kind === 'drift') lines.push(...driftDetailLines(run));
  if (run.replanOf) lines.push(`  attempt ${run.attempt ?? 2} at this head: replans ${run.replanOf} (\`airlock replan\`)`);
  if (run.author !== undefined) lines.push(`  proposed by ${run.agent ? `agent ${flaggedText(run.agent)}` : 'no mapped agent'} (author ${flaggedText(run.author, 120)}, committer ${flaggedText(run.committer ?? '?', 120)})`);
  if (run.plan) {
    lines.push(renderSummaryText(run.plan.summary, { repo: run.repo, workspace: run.workspace, pr: run.pr, sha: run.sha, planSha256: run.plan.sha256 }, { color }));
    if (run.state === 'planned' && run.driftNotice?.outcome !== 'suppressed') lines.push('  APPLIES ARE OFF in the runner config (applies.enabled: false): this plan is reported only; nothing will be applied');
    lines.push(`  tier: ${run.plan.tier}`, ...run.plan.reasons.map((r) => `    ${visibleText(r, 600)}`));
    lines.push(`  plan sha256: ${run.plan.sha256}`);
    if (run.fingerprint) lines.push(`  fingerprint: ${run.fingerprint.sha256} (tree ${run.fingerprint.treeId}, config ${run.fingerprint.configHash.slice(0, 12)}, policy ${run.fingerprint.policyHash.slice(0, 12)}, engine ${visibleText(run.fingerprint.engineVersion, 40)}, provider lock ${run.fingerprint.lockFileHash.slice(0, 12)})`);
  }
  if (run.approval) lines.push(`  approval requested ${run.approval.requestedAt}, expires ${run.approval.expiresAt}`);
  if (run.decision) lines.push(`  decided: ${run.decision.decision} by ${run.decision.by.id} via ${run.decision.channel}${run.decision.breakGlass ? ' (break-glass)' : ''} at ${run.decision.at}`);
  if (run.apply) lines.push(`  apply: started ${run.apply.startedAt}${run.apply.finishedAt ? `, finished ${run.apply.finishedAt}` : ''} on ${run.apply.host} (fence ${run.apply.fence})`);
  if (run.refusal) lines.push(...run.refusal.map((r) => `  refused: ${visibleText(r)}`));
  if (run.error) {
    lines.push(`  error ${run.error.code}: ${visibleText(run.error.message)}`);
    if (run.error.tail) lines.push('  engine output (last lines):', ...run.error.tail.split('\n').map((l) => `    ${visibleText(l)}`));
  }
  if (run.attention) {
    lines.push(`  NEEDS ATTENTION: ${run.attention.reason}`);
    if (run.attention.lockId) lines.push(`  state lock id: ${run.attention.lockId} (check no apply is running, then \`terraform force-unlock ${run.attention.lockId}\`)`);
    if (run.attention.outputTail) lines.push('  engine output (last lines):', ...run.attention.outputTail.split('\n').slice(-15).map((l) => `    ${visibleText(l)}`));
  }
  if (run.supersededBy) lines.push(`  superseded by ${visibleText(run.supersededBy)}`);
  if (run.cancelled) lines.push(`  cancelled by ${visibleText(run.cancelled.by.id, 120)} at ${run.cancelled.at}${run.cancelled.reason ? `: ${visibleText(run.cancelled.reason, 600)}` : ''}`);
  if (run.supersededReason) lines.push(`  superseded: ${visibleText(run.supersededReason)}`);
  if (run.replannedBy) lines.push(`  replanned as ${run.replannedBy}`);
  const records = await readAuditRecords(cp.paths.auditDir, { run: run.id });
  if (records.some((r) => r.detail?.['sandbox'] === 'none')) lines.push(`  WARNING: ${SANDBOX_OFF_WARNING}; this run's engine processes ran that way`);
  if (records.length > 0) {
    lines.push('  audit:');
    for (const r of records) lines.push(`    ${r.time}  ${r.type.padEnd(22)} ${r.actor.kind}:${visibleText(r.actor.id)}${r.detail?.['reason'] ? `  (${visibleText(String(r.detail['reason']))})` : ''}`);
  }
  return lines.join('\n');
}

/** A run as the approvers were shown it: the plan view on this host wins over the Redis copy. */
async function shownRun(cp: ControlPlane, runId: string): Promise<Run> {
  const run = await cp.approvals.shownRun(runId);
  if (!run) throw new RunNotFoundError(runId);
  return run;
}

/** The same, read-only: the view is read, never repaired; an unreadable one leaves the Redis copy. */
async function readShownRun(reader: RunReader, runId: string): Promise<Run> {
  const run = await reader.runs.get(runId);
  const view = await readPlanView(reader.paths.job(run.id).planView, run.id).catch(() => null);
  return view ? runAsViewed(run, view) : run;
}

export async function showRun(cp: RunReader, output: Output, runId: string, json: boolean): Promise<number> {
  const run = await readShownRun(cp, parseRunId(runId, 'airlock show RUN'));
  output.out(json ? renderJson(run) : [await renderRunDetail(cp, run, output.isTTY), ...(await hostDetailLines(cp.paths, run.id))].join('\n'));
  if (!json) {
    const reported = await cp.reported?.(run.id).catch(() => null);
    if (reported) output.out(renderReported(reported));
  }
  return 0;
}

/** `Forge: success (applied) reported at …, PR #1`, or the code of the last failed report. */
function renderReported(json: string): string {
  try {
    const r = JSON.parse(json) as { state?: string; status?: string; prs?: number[]; issue?: number; at?: string; ok?: boolean; error?: string };
    const prs = `${r.prs?.length ? `, PR ${r.prs.map((n) => `#${Number(n)}`).join(' ')}` : ''}${r.issue ? `, issue #${Number(r.issue)}` : ''}`;
    const what = `${visibleText(String(r.status), 20)} (${visibleText(String(r.state), 30)})`;
    return r.ok ? `Forge: ${what} reported at ${visibleText(String(r.at), 40)}${prs}` : `Forge: reporting ${what} failed at ${visibleText(String(r.at), 40)} (${visibleText(String(r.error), 60)}); retried in the background`;
  } catch {
    return 'Forge: (unreadable report record)';
  }
}

/** The person at the terminal, as recorded in the audit log. */
export function osActor(): { kind: 'human'; id: string } {
  return { kind: 'human', id: `os:${userInfo().username}` };
}

export async function decideRun(
  cp: ControlPlane,
  output: Output,
  runId: string,
  decision: 'approve' | 'deny',
  opts: { confirm?: boolean; yes?: boolean; ask?: (question: string) => Promise<string> },
): Promise<number> {
  const run = await shownRun(cp, parseRunId(runId, `airlock ${decision} RUN`));
  let confirmed = opts.confirm === true;
  const ask = opts.ask ?? (output.isTTY && process.stdin.isTTY ? askOnTerminal : undefined);
  if (decision === 'approve' && !opts.yes) {
    // Nobody to ask: an approval that nobody read must be asked for in so many words.
    if (!ask) {
      throw new AirlockError('airlock:approve-needs-yes', `no terminal to ask on: approving run ${run.id} without asking needs --yes`, {
        hint: `Read \`airlock show ${run.id}\`, then run \`airlock approve ${run.id} --yes\`${run.plan?.tier === 'confirm' ? ' --confirm' : ''}.`,
      });
    }
    output.out([await renderRunDetail(cp, run, output.isTTY), ...(await hostDetailLines(cp.paths, run.id))].join('\n'));
    if ((await ask(`Approve run ${run.id}? [y/N] `)).trim().toLowerCase() !== 'y') {
      output.out('not approved; nothing changed');
      return 1;
    }
    if (run.plan?.tier === 'confirm' && !confirmed) {
      const n = confirmationCount(run.plan);
      const destroys = run.plan.summary.counts.delete + run.plan.summary.counts.replace;
      const why = `${destroys > 0 ? `This destroys ${destroys} resource(s)` : 'This plan needs a confirmation'}: ${visibleText(confirmationReason(run.plan), 300)}.`;
      confirmed = (await ask(`${why} Type ${n} to confirm: `)).trim() === String(n);
      if (!confirmed) {
        output.out('not confirmed; nothing changed');
        return 1;
      }
    }
  }
  const decided = await cp.approvals.decide({ decision, by: osActor(), channel: 'terminal', runId, confirmed });
  const how = decided.decision?.breakGlass ? `break-glass decision by ${osActor().id}, audited` : `decision by ${osActor().id} via the terminal channel, audited`;
  output.out(decision === 'approve' ? `approved run ${decided.id}; the apply is queued (${how})` : `denied run ${decided.id} (${how})`);
  return 0;
}

/** `airlock replan RUN`: a new attempt at a finished run's head, recorded with the OS user. */
export async function replanCommand(cp: ControlPlane, output: Output, runId: string, opts: { reason?: string }): Promise<number> {
  const previous = await cp.runs.get(runId);
  const next = await replanRun({ config: cp.config, runs: cp.runs, audit: cp.audit, enqueuePlan: (id) => cp.queues.enqueuePlan(id) }, runId, osActor(), opts.reason);
  output.out(`replanned run ${previous.id} (${previous.state}) as ${next.id}, attempt ${next.attempt} at ${next.sha.slice(0, 10)}; a runner plans it now (recorded with ${osActor().id})`);
  if (previous.state === 'needs_attention') output.out('  the previous apply may have been partial: the new plan is made against the state as it is now');
  output.out(`  follow it with \`airlock show ${next.id}\``);
  return 0;
}

/** `airlock cancel`: stop a run before its apply. An apply already under way is never interrupted. */
export async function cancelCommand(cp: ControlPlane, output: Output, runId: string, opts: { reason?: string }): Promise<number> {
  const run = await cp.runs.get(parseRunId(runId, 'airlock cancel RUN'));
  if ((opts.reason?.length ?? 0) > 1000) throw new AirlockError('airlock:cancel-refused', `--reason is ${opts.reason!.length} characters; at most 1000 are kept`, { hint: 'Give a shorter reason; link to a longer write-up if there is one.' });
  const cancelled = await cp.approvals.cancel(run.id, osActor(), opts.reason);
  if (!cancelled) {
    const now = await cp.runs.get(run.id);
    const hint = now.state === 'applying'
      ? 'An apply is never interrupted: it may be half done. Wait for it to end, then read `airlock show`.'
      : 'Only a run that is planning, awaiting approval or approved (apply not started) can be cancelled.';
    throw new AirlockError('airlock:cancel-refused', `run ${now.id} is ${now.state}; it cannot be cancelled`, { hint });
  }
  const stops = run.state === 'planning' ? '; its plan job stops before its next step' : '; no tap on its requests can count now';
  output.out(`cancelled run ${cancelled.id} (was ${run.state})${stops} (recorded with ${osActor().id})`);
  return 0;
}

export async function askOnTerminal(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}
