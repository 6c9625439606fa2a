// The plan job's two audit steps: who proposed the head commit (after checkout), and the run's
// fingerprint (once the plan file exists). Each stores its result on the run and writes a record.
import type { Logger } from 'pino';
import type { RunStore } from '../run/run-store.ts';
import type { Run } from '../run/run.ts';
import { readCommitIdentity } from '../checkout/mirror.ts';
import type { CommitIdentity } from '../checkout/checkout.ts';
import type { RunnerConfig } from '../config/schema.ts';
import { RECORD_TYPES } from '../audit/audit.ts';
import { describeRun, RUNNER_ACTOR } from '../run/describe.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { attributeCommit, type AgentMap } from '../audit/attribution.ts';
import { computeFingerprint, lockFileHashIn } from '../audit/fingerprint.ts';
import { policyHash } from '../policy/policy.ts';

export interface RecordRunDeps {
  runs: RunStore;
  audit: AuditLog;
  log: Logger;
}

/**
 * Attribute the run's head commit to an agent (or to nobody) from `agents`; never fails the plan. `known`:
 * the identity the export already read (or why it could not), so no git process is needed for it.
 */
export async function recordAttribution(deps: RecordRunDeps, run: Run, mirrorDir: string, agents: AgentMap, known?: CommitIdentity | Error): Promise<Run> {
  let identity: CommitIdentity;
  try {
    if (known instanceof Error) throw known;
    identity = known ?? (await readCommitIdentity(mirrorDir, run.sha));
  } catch (err) {
    deps.log.warn({ err, runId: run.id }, 'cannot read the commit author; the run is not attributed');
    await deps.audit.append({ type: RECORD_TYPES.attributed, ...describeRun(run), actor: RUNNER_ACTOR, detail: { agent: null, error: (err as Error).message } });
    return run;
  }
  const a = attributeCommit(agents, identity);
  const updated =
    (await deps.runs.update(run.id, (r) => (r.state === 'planning' ? { ...r, agent: a.agent, author: a.author, committer: a.committer, updatedAt: new Date().toISOString() } : null))) ??
    { ...run, agent: a.agent, author: a.author, committer: a.committer };
  await deps.audit.append({ type: RECORD_TYPES.attributed, ...describeRun(updated), actor: RUNNER_ACTOR, detail: { agent: a.agent, matchedBy: a.matchedBy } });
  return updated;
}

/** Fingerprint a planned run: tree, plan bytes, config file, policy, engine version, provider lock. */
export async function recordFingerprint(
  deps: RecordRunDeps,
  run: Run,
  inputs: { config: RunnerConfig; configHash: string; workspaceDir: string },
): Promise<Run> {
  if (!run.plan) return run;
  const fingerprint = computeFingerprint({
    treeId: run.plan.treeId,
    planSha256: run.plan.sha256,
    configHash: inputs.configHash,
    policyHash: policyHash(inputs.config),
    engineVersion: run.plan.engineVersion,
    lockFileHash: await lockFileHashIn(inputs.workspaceDir),
  });
  const updated = await deps.runs.update(run.id, (r) => (r.state === 'planning' ? { ...r, fingerprint, updatedAt: new Date().toISOString() } : null));
  if (!updated) return deps.runs.get(run.id);
  const { sha256, ...parts } = fingerprint;
  await deps.audit.append({ type: 'run.fingerprinted', ...describeRun(updated), actor: RUNNER_ACTOR, detail: { fingerprint: sha256, ...parts } });
  return updated;
}
