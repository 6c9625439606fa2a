// `airlock runs` and `airlock show`: reading runs from the runner host. They open no audit chain, take no
// lock and write nothing to Redis, and load none of the queue, engine, forge or approval-channel code.
import type { Run } from '../run/run.ts';
import { readPlanView, runAsViewed } from '../approve/plan-view.ts';
import { readAuditRecords } from '../audit/read-audit.ts';
import { loadConfig } from '../config/load.ts';
import { SANDBOX_OFF_WARNING } from '../engine/config.ts';
import { flaggedText, visibleText } from '../lib/untrusted-text.ts';
import { colorAllowed } from '../log/color.ts';
import { scrubber } from '../log/scrub.ts';
import { renderShortCounts, renderSummaryText } from '../plan/render.ts';
import { redisTargetFor } from '../queue/redis-connection.ts';
import { parseRunId } from '../run/run-schema.ts';
import { probeRedis } from '../runner/redis-probe.ts';
import { openRunReader, type RunReader } from '../runner/run-reader.ts';
import { renderJson, type Output } from './output.ts';
import { hostDetailLines } from './show-values.ts';
import { driftDetailLines } from './drift-show.ts';

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
  if (run.supersededReason) lines.push(`  superseded: ${visibleText(run.supersededReason)}`);
  if (run.cancelled) lines.push(`  cancelled by ${visibleText(run.cancelled.by.id, 120)} at ${run.cancelled.at}${run.cancelled.reason ? `: ${visibleText(run.cancelled.reason, 600)}` : ''}`);
  if (run.replannedBy) lines.push(`  replanned as ${run.replannedBy}`);
  const records = await readAuditRecords(cp.paths.auditDir, { run: run.id });
  if (records.some((r) => r.detail?.['sandbox'] === 'none')) lines.push(`  WARNING: ${SANDBOX_OFF_WARNING}; this run's engine processes ran that way`);
  if (records.length > 0) {
    lines.push('  audit:');
    for (const r of records) lines.push(`    ${r.time}  ${r.type.padEnd(22)} ${r.actor.kind}:${visibleText(r.actor.id)}${r.detail?.['reason'] ? `  (${visibleText(String(r.detail['reason']))})` : ''}`);
  }
  return lines.join('\n');
}

/** A run as the approvers were shown it, read-only: the view is read, never repaired; an unreadable one leaves the Redis copy. */
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
    const r = JSON.parse(json) as { state?: string; status?: string; prs?: number[]; at?: string; ok?: boolean; error?: string };
    const prs = r.prs?.length ? `, PR ${r.prs.map((n) => `#${Number(n)}`).join(' ')}` : '';
    const what = `${visibleText(String(r.status), 20)} (${visibleText(String(r.state), 30)})`;
    return r.ok ? `Forge: ${what} reported at ${visibleText(String(r.at), 40)}${prs}` : `Forge: reporting ${what} failed at ${visibleText(String(r.at), 40)} (${visibleText(String(r.error), 60)}); retried in the background`;
  } catch {
    return 'Forge: (unreadable report record)';
  }
}
