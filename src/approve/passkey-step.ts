// The passkey step of a decision, as the approval service takes it: ask the gate (passkey/gate.ts) before
// anything is consumed, turn what it refuses into an audited refusal with the check's own code, and
// remember the counter once the decision counted. Kept apart so approval-service.ts stays small.
import type { AirlockCode } from '../errors.ts';
import type { Logger } from 'pino';
import type { Actor, Run } from '../run/run.ts';
import { describeRun } from '../run/describe.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ApprovalBinding, Decision } from './approve.ts';
import { PASSKEY_CODES, PasskeyError } from './passkey/errors.ts';
import type { PasskeyGate, PasskeyProof } from './passkey/gate.ts';
import type { PasskeyAssertion } from './passkey/reply.ts';

export type { PasskeyAssertion, PasskeyGate, PasskeyProof };

type Refuse<I> = (run: Run, input: I, reason: string, hint?: string, code?: AirlockCode) => Promise<never>;

export function createPasskeyStep<I extends { decision: Decision; passkey?: PasskeyAssertion }>(deps: { gate: PasskeyGate | undefined; log: Logger; audit: Pick<AuditLog, 'append'>; refuse: Refuse<I> }) {
  return {
    /**
     * The proof, null when none came and none is needed; otherwise an audited refusal (throws). Asked with
     * the binding peeked by the nonce's hash, before the same hash consumes it: the proof is for that binding.
     */
    async check(run: Run, binding: ApprovalBinding | null, input: I): Promise<PasskeyProof | null> {
      // Break-glass decisions (no binding) are taken on the runner host and audited as such: no passkey there.
      if (!binding || !deps.gate) return input.passkey ? deps.refuse(run, input, 'passkey: this decision takes no passkey here', undefined, PASSKEY_CODES.notConfigured) : null;
      try {
        return await deps.gate.check(binding, input.decision, input.passkey);
      } catch (err) {
        if (!(err instanceof PasskeyError)) throw err;
        // A counter that went back may be a cloned key: an error with an event an alert can match.
        if (err.problem === 'counter') deps.log.error({ event: 'passkey.counter_regression', runId: run.id, approver: binding.approver, credentialId: input.passkey?.id }, err.message);
        return deps.refuse(run, input, err.message, err.hint, err.code);
      }
    },

    /** The first step of a destroying plan was signed: its proof goes on record, as the decision's will. */
    async recordFirstStep(run: Run, binding: ApprovalBinding, actor: Actor, proof: PasskeyProof | null): Promise<void> {
      if (!proof) return;
      await this.settle(proof, run);
      await deps.audit.append({ type: 'approval.passkey', ...describeRun(run), actor, detail: { approver: binding.approver, phase: binding.phase, passkey: proof } });
    },

    /** The decision counted: the counter moves on, so this signature can never count again. */
    async settle(proof: PasskeyProof | null, run: Run): Promise<void> {
      if (proof) await deps.gate?.settle(proof).catch((err: unknown) => deps.log.error({ err, runId: run.id }, 'could not record the passkey counter'));
    },
  };
}
