// The `approval.passkey` section: where the approval page is hosted (its origin is the relying party);
// `approval.require`: which steps need a passkey rather than a tap. Each approver's
// `passkey: required|optional` sits on the approver (approval.ntfy.approvers[]).
import { z } from 'zod';

const ORIGIN = /^(https:\/\/[a-z0-9.-]+(:\d{1,5})?|http:\/\/localhost(:\d{1,5})?)$/;
const HOST = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const step = z.enum(['tap', 'passkey']);

export const passkeyModeSchema = z.enum(['required', 'optional']);

/** `approval.require`: what each step needs. `approve` is the Approve of any plan, `confirm` the second step of a destroying one. */
export const requireSchema = z.strictObject({ approve: step.default('tap'), confirm: step.default('tap') }).prefault({});
export type StepRequirements = z.output<typeof requireSchema>;

export const passkeyConfigSchema = z
  .strictObject({
    // The origin that serves the page: the RP ID is its host unless `rpId` names a parent domain of it.
    origin: z
      .string()
      .transform((o) => o.replace(/\/+$/, '').toLowerCase())
      .refine((o) => ORIGIN.test(o), 'must be the HTTPS origin that hosts the approval page, like "https://approve.example.net" (no path; http only for localhost)'),
    rpId: z.string().regex(HOST, 'must be a host name, like "example.net"').optional(),
    // Path of the page on the origin (`airlock passkey page` writes it).
    page: z.string().regex(/^\/[-._~/A-Za-z0-9]*$/, 'must be a path starting with "/", like "/airlock-approve.html"').default('/airlock-approve.html'),
  })
  .transform((c) => ({ ...c, rpId: c.rpId ?? new URL(c.origin).hostname }))
  .superRefine((c, ctx) => {
    const host = new URL(c.origin).hostname;
    if (host !== c.rpId && !host.endsWith(`.${c.rpId}`)) ctx.addIssue({ code: 'custom', path: ['rpId'], message: `must be ${host} or a parent domain of it (WebAuthn allows no other RP ID on that origin)` });
  });

export type PasskeyConfig = z.output<typeof passkeyConfigSchema>;
export type PasskeyMode = z.output<typeof passkeyModeSchema>;

/** Pure: whether a step of a decision needs a passkey. A denial never does: refusing is always safe. */
export function needsPasskey(require: StepRequirements | undefined, mode: PasskeyMode | undefined, decision: 'approve' | 'deny', phase: 'approve' | 'confirm'): boolean {
  if (decision !== 'approve') return false;
  if (mode === 'required') return true;
  return require?.[phase] === 'passkey';
}

/** The page URL an approval or registration opens, with its fragment (never sent to the page's server). */
export function pageUrl(config: PasskeyConfig, fragment: string): string {
  return `${config.origin}${config.page}#${fragment}`;
}
