// How a run is named in a record: its subject (repo, PR, head, who pushed) and its plan. The audit log
// stores these fields; the run's transitions write them on every state change.
import type { Actor, Run } from './run.ts';

export interface RunDescription {
  run: string;
  subject: { repo: string; pr: number | null; ref: string; sha: string; workspace: string; agent?: string | null; author?: string; committer?: string; kind?: 'drift'; driftSlot?: string };
  plan?: { sha256: string; counts: Record<string, number>; tier: string; fingerprint?: string };
}

/** The runner writing the record; the audit log replaces it with `runner:<runner.id>` (audit-log.ts). */
export const RUNNER_ACTOR: Actor = { kind: 'runner', id: 'airlock' };

/** The subject and plan fields of a record about `run`. */
export function describeRun(run: Run): RunDescription {
  return {
    run: run.id,
    subject: {
      repo: run.repo,
      pr: run.pr,
      ref: run.ref,
      sha: run.sha,
      workspace: run.workspace,
      ...(run.agent !== undefined ? { agent: run.agent } : {}),
      ...(run.author !== undefined ? { author: run.author } : {}),
      ...(run.committer !== undefined ? { committer: run.committer } : {}),
      // PR runs' records stay as they were; a drift run says so in every record.
      ...(run.kind === 'drift' ? { kind: 'drift' as const, driftSlot: run.driftSlot! } : {}),
    },
    ...(run.plan
      ? {
          plan: {
            sha256: run.plan.sha256,
            counts: { ...run.plan.summary.counts },
            tier: run.plan.tier,
            ...(run.fingerprint ? { fingerprint: run.fingerprint.sha256 } : {}),
          },
        }
      : {}),
  };
}
