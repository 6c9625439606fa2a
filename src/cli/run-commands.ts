// `airlock approve`, `deny`, `cancel`, `replan`: deciding, stopping and re-planning runs, audited.
// Reading them (`runs`, `show`) is read-commands.ts.
import { createInterface } from 'node:readline/promises';
import pino from 'pino';
import { replanRun } from '../apply/replan.ts';
import type { Run } from '../run/run.ts';
import { confirmationCount, confirmationReason } from '../approve/confirmation.ts';
import { parseRunId } from '../run/run-schema.ts';
import { RunNotFoundError } from '../run/run-store.ts';
import { loadConfig } from '../config/load.ts';
import { AirlockError } from '../errors.ts';
import { visibleText } from '../lib/untrusted-text.ts';
import { openControlPlane, type ControlPlane } from '../runner/control-plane.ts';
import { probeRedis } from '../runner/redis-probe.ts';
import { wireReporting } from '../runner/report-wiring.ts';
import { redisTargetFor } from '../queue/redis-connection.ts';
import { scrubber } from '../log/scrub.ts';
import { osActor } from './actor.ts';
import type { Output } from './output.ts';
import { renderRunDetail } from './read-commands.ts';
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

/** A run as the approvers were shown it: the plan view on this host wins over the Redis copy. */
async function shownRun(cp: ControlPlane, runId: string): Promise<Run> {
  const run = await cp.approvals.shownRun(runId);
  if (!run) throw new RunNotFoundError(runId);
  return run;
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
