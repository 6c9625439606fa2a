// Whether the ntfy server lets anyone at the approval topics. ntfy's defaults are open: with no auth-file
// there is no auth at all, and auth-default-access is read-write (server/config.go, NewConfig; user/
// manager.go, Authorize). Then anyone can read a notify topic (and the nonces in it) and post to a reply
// topic (and so approve). Both are tried for real, without credentials, before any nonce goes out.
import type { Logger } from 'pino';
import { AirlockError } from '../../errors.ts';
import type { ApproverConfig } from '../config.ts';
import type { NtfyClient } from '../../ntfy/client.ts';
import { DOCTOR_PROBE } from '../reply.ts';

export interface Exposure {
  approver: string;
  topic: string;
  /** read: anyone can read this notify topic; write: anyone can post to this reply topic. */
  kind: 'read' | 'write';
}

/** Try an anonymous read of every notify topic and an anonymous write to every reply topic. */
export async function findAnonymousAccess(client: NtfyClient, approvers: readonly ApproverConfig[]): Promise<Exposure[]> {
  const found: Exposure[] = [];
  for (const a of approvers) {
    if (await client.canRead(a.notifyTopic, null)) found.push({ approver: a.name, topic: a.notifyTopic, kind: 'read' });
    // Nothing is stored on a closed server; an open one that stored it keeps a probe the runner ignores.
    if (await client.canWrite(a.replyTopic, null, JSON.stringify(DOCTOR_PROBE))) found.push({ approver: a.name, topic: a.replyTopic, kind: 'write' });
  }
  return found;
}

/** One line per exposure: what anyone can do, and why it matters. */
export function describeExposure(e: Exposure): string {
  return e.kind === 'read'
    ? `anyone can read ${e.topic} (${e.approver}'s notify topic), and with it every nonce sent to ${e.approver}`
    : `anyone can post to ${e.topic} (${e.approver}'s reply topic), and so answer in ${e.approver}'s name`;
}

export const OPEN_SERVER_FIX =
  'set `auth-default-access: deny-all` and an `auth-file` in the ntfy server.yml, and remove any grant to everyone (`ntfy access everyone …`) on the approval topics (deploy/ntfy/)';

/** The ntfy server lets anyone at an approval topic: the runner will not send a nonce through it. */
export class AnonymousAccessError extends AirlockError {
  constructor(readonly exposures: Exposure[]) {
    super('airlock:ntfy-anonymous-access', `the ntfy server allows anonymous access to approval topics: ${exposures.map(describeExposure).join('; ')}`, {
      hint: `Fix the server: ${OPEN_SERVER_FIX}. Only if you accept that anyone who reaches the server can approve, set \`approval.ntfy.unsafeAllowAnonymousAccess: true\`.`,
    });
  }
}

/**
 * The check the runner makes before any nonce goes out: once conclusive it is not repeated; while the
 * server cannot be asked, every delivery asks again (and fails, so nothing is sent unchecked).
 */
export function createExposureGate(deps: { client: NtfyClient; approvers: readonly ApproverConfig[]; override: boolean; log: Logger }) {
  let closed = false;
  return {
    /** Resolves when the approval topics are closed to anyone without a token (or the override is set). */
    async ensureClosed(): Promise<void> {
      if (closed) return;
      const exposures = await findAnonymousAccess(deps.client, deps.approvers);
      if (exposures.length > 0 && !deps.override) throw new AnonymousAccessError(exposures);
      if (exposures.length > 0) {
        deps.log.error(
          { event: 'ntfy.anonymous_access', exposures: exposures.map(describeExposure) },
          'UNSAFE: approval.ntfy.unsafeAllowAnonymousAccess is set and the ntfy server lets anyone read nonces or post replies: anyone who reaches it can approve an apply',
        );
      }
      closed = true;
    },
  };
}

export type ExposureGate = ReturnType<typeof createExposureGate>;
