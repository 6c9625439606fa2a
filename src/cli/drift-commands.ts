// `airlock drift [WORKSPACE] [--now]`: where each drift-checked workspace stands (last in sync, latest
// drift run, next slot), or a drift check queued at once, which the runner plans like a scheduled one.
import { driftTargetFor, driftTargets, type DriftTarget } from '../jobs/drift-job.ts';
import { nextFiring } from '../jobs/drift-schedule.ts';
import { createDriftStatus, type DriftStatus } from '../jobs/drift-status.ts';
import { loadConfig } from '../config/load.ts';
import type { RunnerConfig } from '../config/schema.ts';
import { AirlockError } from '../errors.ts';
import { visibleText } from '../lib/untrusted-text.ts';
import { scrubber } from '../log/scrub.ts';
import { createDriftQueue } from '../queue/drift-queue.ts';
import { connectRedis, redisTargetFor } from '../queue/redis-connection.ts';
import { probeRedis } from '../runner/redis-probe.ts';
import { osActor } from './actor.ts';
import { withControlPlane } from './run-commands.ts';
import { renderJson, type Output } from './output.ts';

/** The one target WORKSPACE names: `repo/workspace`, or a workspace name only one repo has. */
export function pickTarget(config: Pick<RunnerConfig, 'repos'>, name: string): DriftTarget {
  const [repo, workspace] = name.includes('/') ? name.split('/', 2) : [undefined, name];
  if (repo !== undefined) return driftTargetFor(config, repo, workspace!);
  const matches = driftTargets(config).filter((t) => t.workspace === workspace);
  if (matches.length === 1) return matches[0]!;
  throw new AirlockError(
    matches.length === 0 ? 'airlock:drift-not-configured' : 'airlock:drift-ambiguous',
    matches.length === 0 ? `no workspace ${JSON.stringify(name.slice(0, 80))} has a drift schedule` : `workspace ${JSON.stringify(name)} is in several repos: ${matches.map((t) => t.repo.name).join(', ')}`,
    { hint: matches.length === 0 ? 'Run `airlock drift` to list the scheduled workspaces, or add `drift:` to the workspace in the runner config.' : `Name it as REPO/${name}.` },
  );
}

export async function driftCommand(configFile: string, output: Output, workspace: string | undefined, opts: { now?: boolean; json?: boolean }): Promise<number> {
  const loaded = await loadConfig(configFile);
  const { config } = loaded;
  if (opts.now) {
    if (workspace === undefined) throw new AirlockError('airlock:bad-option', '--now needs the workspace to check', { hint: 'Run `airlock drift REPO/WORKSPACE --now`.' });
    const t = pickTarget(config, workspace);
    const slot = new Date().toISOString();
    await withControlPlane(configFile, async (cp) => {
      const queue = createDriftQueue({ redis: cp.redisTarget, prefix: config.redis.prefix });
      try {
        await queue.schedule({ repo: t.repo.name, workspace: t.workspace, slot }, new Date());
      } finally {
        await queue.close();
      }
      await cp.audit.append({ type: 'drift.requested', run: null, actor: osActor(), detail: { repo: t.repo.name, workspace: t.workspace, ref: t.drift.ref, slot } });
    });
    output.out(`drift check of ${t.repo.name}/${t.workspace} (${visibleText(t.drift.ref)}) queued for slot ${slot}; \`airlock runs --kind drift\` shows it once the runner takes it`);
    return 0;
  }
  const targets = workspace === undefined ? driftTargets(config) : [pickTarget(config, workspace)];
  const target = await redisTargetFor(loaded, scrubber);
  await probeRedis(target, loaded.file);
  const redis = connectRedis(target);
  redis.on('error', () => undefined);
  try {
    const status = createDriftStatus(redis, config.redis.prefix);
    const rows = [];
    for (const t of targets) {
      const s: DriftStatus | null = await status.read(t.repo.name, t.workspace);
      const next = nextFiring(t.repo.name, t.workspace, t.drift, new Date());
      rows.push({ repo: t.repo.name, workspace: t.workspace, ref: t.drift.ref, schedule: t.drift.schedule, status: s, nextSlot: next.slot.toISOString(), nextFireAt: next.fireAt.toISOString() });
    }
    if (opts.json) output.out(renderJson(rows));
    else if (rows.length === 0) output.out('no workspace has a drift schedule (add `drift: { schedule: "0 */6 * * *" }` to a workspace in the runner config)');
    else for (const r of rows) output.out(renderDriftRow(r));
    return 0;
  } finally {
    redis.disconnect();
  }
}

function renderDriftRow(r: { repo: string; workspace: string; ref: string; schedule: string; status: DriftStatus | null; nextFireAt: string }): string {
  const s = r.status;
  const inSync = s === null ? 'status unknown (record quarantined)' : s.lastInSync ? `last in sync ${s.lastInSync}` : 'never found in sync yet';
  const last = s?.lastRun ? `latest drift run ${s.lastRun} ${s.lastState}${s.drifted ? ` (${s.drifted} drifted)` : ''} at ${s.lastAt}` : 'no drift run yet';
  const told = s?.fingerprint ? `  drift told by ${s.notifiedRun} at ${s.notifiedAt} (the same drift is not told again)` : '';
  return `${r.repo}/${r.workspace}  ${visibleText(r.ref, 80)}  "${r.schedule}"  ${inSync}  ${last}${told}  next check ${r.nextFireAt}`;
}
