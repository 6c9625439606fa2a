// Reporting to forges, wired into the runner: the reporter hears every run move from the transitions
// (never from the jobs), and the watcher's sightings (a new run is created, not moved). What was last
// reported for a run is kept in Redis for `airlock show`.
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.ts';
import { scrubber } from '../log/scrub.ts';
import { openForges } from '../report/open.ts';
import { createReporter, type Reporter, type ReportOutcome } from '../report/reporter.ts';
import type { RunStore } from '../run/run-store.ts';
import type { RunTransitions } from '../run/transitions.ts';
import type { ControlPlane } from './control-plane.ts';
import { reportKey } from './run-reader.ts';

const REPORT_TTL_S = 30 * 24 * 3600;

export interface ReportWiring {
  reporter: Reporter;
  /** A run was just created (planning): its pending status. Never throws, never waits on the forge. */
  sighted(runId: string): void;
  /** Unsubscribe, give a send in flight up to `graceMs` (default 5 s), and leave the rest (logged). */
  stop(graceMs?: number): Promise<void>;
}

export async function wireReporting(
  loaded: LoadedConfig,
  deps: { transitions: RunTransitions; runs: Pick<RunStore, 'find'>; redis: Pick<ControlPlane['redis'], 'set'>; log: Logger; reporterOptions?: { backoffMs?: number; maxBackoffMs?: number; maxBacklog?: number; maxAttempts?: number } },
): Promise<ReportWiring | null> {
  const opened = await openForges(loaded, scrubber);
  if (opened.length === 0) return null;
  const log = deps.log.child({ component: 'report' });
  const prefix = loaded.config.redis.prefix;
  const reporter = createReporter({
    forges: new Map(opened.map((o) => [o.repo, { forge: o.forge, comment: o.comment, driftIssue: o.driftIssue }])),
    log,
    ...deps.reporterOptions,
    onReported: async (run, outcome: ReportOutcome) => {
      await deps.redis.set(reportKey(prefix, run.id), JSON.stringify(outcome), 'EX', REPORT_TTL_S);
    },
  });
  const unsubscribe = deps.transitions.subscribe((event) => reporter.report(event.run));
  log.info({ repos: opened.map((o) => `${o.repo}:${o.config.kind}`) }, 'reporting run outcomes to forges');
  return {
    reporter,
    sighted(runId: string): void {
      void deps.runs
        .find(runId)
        .then((run) => {
          if (run?.state === 'planning') reporter.report(run);
        })
        .catch((err: unknown) => log.debug({ err, runId }, 'could not read a sighted run for its pending status'));
    },
    async stop(graceMs?: number): Promise<void> {
      unsubscribe();
      await reporter.stop(graceMs);
    },
  };
}
