// Why a plan needs the second, explicit confirmation, in the policy's own words: a plan can be tier
// `confirm` because it destroys something, or because it touches a protected resource, or a limit.
import type { RunPlan } from '../run/run.ts';

const APPLIES_OFF = '[applies-off]';

/** Pure: the reason a tier-`confirm` plan needs confirming, for a refusal or a prompt. */
export function confirmationReason(plan: Pick<RunPlan, 'summary' | 'reasons'>): string {
  const destroys = plan.summary.counts.delete + plan.summary.counts.replace;
  // The policy lists its reasons highest tier first: the first ones are what made the plan `confirm`.
  const first = plan.reasons.find((r) => !r.startsWith(APPLIES_OFF));
  if (first !== undefined) return first;
  return destroys > 0 ? `it destroys ${destroys} resource(s)` : 'the policy asks for it';
}

/** Pure: the number a human types to confirm at a terminal: what is destroyed, else what changes. */
export function confirmationCount(plan: Pick<RunPlan, 'summary'>): number {
  const { counts } = plan.summary;
  const destroys = counts.delete + counts.replace;
  return destroys > 0 ? destroys : plan.summary.total;
}
