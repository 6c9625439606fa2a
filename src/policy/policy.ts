// Policy: the risk tier of a plan. Pure. The core rule set; configurable rules build on `tierFor`.
import type { PlanSummary } from '../plan/summary.ts';

/** none: nothing to apply · auto: no tap · approve: one tap · confirm: two taps · deny: never applied */
export const TIERS = ['none', 'auto', 'approve', 'confirm', 'deny'] as const;
export type Tier = (typeof TIERS)[number];

export function tierRank(tier: Tier): number {
  return TIERS.indexOf(tier);
}

/** The default tier: nothing for a no-op plan, two taps for any delete or replace, one tap otherwise. */
export function tierFor(summary: PlanSummary): { tier: Tier; reasons: string[] } {
  const { counts } = summary;
  if (summary.errored) return { tier: 'deny', reasons: ['the engine reported errors while planning: an errored plan is never applied'] };
  if (summary.total === 0) return { tier: 'none', reasons: ['no changes'] };
  if (counts.delete > 0 || counts.replace > 0) {
    return { tier: 'confirm', reasons: [`destroys ${counts.delete + counts.replace} resource(s): confirmation required`] };
  }
  return { tier: 'approve', reasons: ['changes infrastructure: approval required'] };
}

/** Whether a tier needs a human's second, explicit confirmation. */
export function needsConfirmation(tier: Tier): boolean {
  return tier === 'confirm';
}
