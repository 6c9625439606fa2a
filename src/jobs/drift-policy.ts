// The policy for a drift run: as for any run, except that tier `auto` applies a drift run's plan without a
// tap only when the workspace's `drift.autoApply` says so. Drift never applies itself by default.
import type { Run } from '../run/run.ts';
import type { RunnerConfig } from '../config/schema.ts';
import { workspaceOf } from '../config/workspace.ts';
import type { PolicyDecision } from '../policy/policy.ts';

export const DRIFT_NOT_AUTO_REASON = '[drift] policy `auto` does not apply a drift run unless the workspace sets `drift.autoApply: true`: someone approves re-converging';

/** The decision for `run`: unchanged for PR runs; `auto` raised to `approve` for drift runs without autoApply. */
export function driftAdjusted(config: RunnerConfig, run: Run, decision: PolicyDecision): PolicyDecision {
  if (run.kind !== 'drift' || decision.tier !== 'auto') return decision;
  if (workspaceOf(config, run).drift?.autoApply === true) return decision;
  return { ...decision, tier: 'approve', reasons: [DRIFT_NOT_AUTO_REASON, ...decision.reasons], rules: ['drift', ...decision.rules] };
}
