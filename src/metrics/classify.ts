// Free text (refusal reasons, guard findings) turned into a value from a fixed set, for metric labels.

/** The reason classes of a refused decision (approve/decision-rules.ts and approval-service.ts word them). */
const REFUSAL_CLASSES: ReadonlyArray<[RegExp, string]> = [
  [/^decisions must come from a human/, 'not_human'],
  [/an agent can never decide/, 'agent'],
  [/^(planned|the nonce was issued) by runner /, 'other_runner'],
  [/^replayed/, 'replayed'],
  [/^void: /, 'void'],
  [/reply topic/, 'wrong_topic'],
  [/needs an explicit confirmation/, 'needs_confirmation'],
  [/held back behind the cap/, 'held'],
  [/changed while deciding/, 'race'],
  [/^(no such run|no run named)/, 'unknown_run'],
  [/nonce|binding/, 'bad_nonce'],
  [/^bound to |no durable plan|plan view|does not match|shown/, 'plan_mismatch'],
  [/expired|superseded|newer head|older plan/, 'stale'],
  [/^run is /, 'run_state'],
];

export const REFUSAL_REASONS = [...new Set(REFUSAL_CLASSES.map(([, c]) => c)), 'other'] as const;

export function refusalClass(reason: unknown): string {
  if (typeof reason !== 'string') return 'other';
  for (const [pattern, name] of REFUSAL_CLASSES) if (pattern.test(reason)) return name;
  return 'other';
}

/** The rule ids of guard findings written as `[rule] file address: message` (guard/guard.ts describeViolation). */
export function guardRules(lines: unknown): string[] {
  if (!Array.isArray(lines)) return [];
  const rules: string[] = [];
  for (const line of lines) {
    const m = typeof line === 'string' ? /^\[([a-z0-9-]{1,48})\] /.exec(line) : null;
    if (m) rules.push(m[1]!);
  }
  return rules;
}
