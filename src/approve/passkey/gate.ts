// The passkey step of a decision: whether it needs a passkey, and if one came, whether it is a signature
// of a key registered to that approver over exactly this decision on this plan. The approval service
// asks before the nonce is consumed, and records the proof it returns in the audit chain.
import { approvalChallenge, type ChallengeFacts } from './challenge.ts';
import { needsPasskey, type PasskeyConfig, type PasskeyMode, type StepRequirements } from './config.ts';
import { PasskeyError } from './errors.ts';
import type { PasskeyAssertion } from './reply.ts';
import { PasskeyStore, passkeyStoreFile } from './store.ts';
import { verifyAssertion } from './verify.ts';

/** What the runner knows of the decision, from its own binding (never from the page). */
export interface PasskeyStep {
  runId: string;
  sha: string;
  workspace: string;
  planSha256: string;
  /** sha256 (hex) of the nonce the decision presents. */
  tokenHash: string;
  approver: string | null;
  phase: 'approve' | 'confirm';
}

/** What goes into the audit record: enough to verify the signature again offline. */
export interface PasskeyProof {
  credentialId: string;
  decision: 'approve' | 'deny';
  phase: 'approve' | 'confirm';
  nonceSha256: string;
  counter: number;
  rpId: string;
  origin: string;
  authenticatorData: string;
  clientDataJSON: string;
  signature: string;
}

export interface PasskeyGate {
  /** The proof, null when no passkey came and none is needed; throws PasskeyError when it does not hold. */
  check(step: PasskeyStep, decision: 'approve' | 'deny', assertion: PasskeyAssertion | undefined): Promise<PasskeyProof | null>;
  /** The decision counted: remember the counter, so the same signature (or a clone's) is a regression. */
  settle(proof: PasskeyProof): Promise<void>;
}

export function factsOf(step: Pick<PasskeyStep, 'runId' | 'sha' | 'workspace' | 'planSha256' | 'tokenHash'>, decision: 'approve' | 'deny'): ChallengeFacts {
  return { runId: step.runId, sha: step.sha, workspace: step.workspace, planSha256: step.planSha256, decision, nonceSha256: step.tokenHash };
}

export function createPasskeyGate(deps: { config: PasskeyConfig | undefined; require?: StepRequirements; modes: Map<string, PasskeyMode>; store: PasskeyStore }): PasskeyGate {
  return {
    async check(step, decision, assertion) {
      const mode = step.approver === null ? undefined : deps.modes.get(step.approver);
      if (!assertion) {
        if (needsPasskey(deps.require, mode, decision, step.phase)) {
          throw new PasskeyError('required', `${step.phase === 'confirm' ? 'the confirmation' : 'this approval'}${mode === 'required' ? ` by ${step.approver}` : ''} needs a passkey, and the reply is a plain tap`);
        }
        return null;
      }
      const config = deps.config;
      if (!config) throw new PasskeyError('notConfigured', 'the reply carries a passkey assertion, but `approval.passkey` is not configured');
      const credential = await deps.store.find(assertion.id);
      if (!credential) throw new PasskeyError('unregistered', 'no passkey is registered with this credential id');
      if (credential.approver !== step.approver) throw new PasskeyError('unregistered', `the passkey is registered to ${credential.approver}, not to ${step.approver ?? 'the runner host'} who was asked`);
      const verified = await verifyAssertion(assertion, credential, { challenge: approvalChallenge(factsOf(step, decision)), rpId: config.rpId, origin: config.origin, checkCounter: true });
      return {
        credentialId: verified.credentialId,
        decision,
        phase: step.phase,
        nonceSha256: step.tokenHash,
        counter: verified.counter,
        rpId: config.rpId,
        origin: config.origin,
        authenticatorData: assertion.authenticatorData,
        clientDataJSON: assertion.clientDataJSON,
        signature: assertion.signature,
      };
    },
    async settle(proof) {
      await deps.store.advanceCounter(proof.credentialId, proof.counter);
    },
  };
}

/** The gate of a runner config: `approval.passkey`, `approval.require`, each approver's mode, and the store in the data dir. */
export function openPasskeyGate(
  approval: { passkey?: PasskeyConfig | undefined; require: StepRequirements; ntfy?: { approvers: Array<{ name: string; passkey: PasskeyMode }> } | undefined },
  dataDir: string,
): PasskeyGate {
  const modes = new Map((approval.ntfy?.approvers ?? []).map((a) => [a.name, a.passkey]));
  return createPasskeyGate({ config: approval.passkey, require: approval.require, modes, store: new PasskeyStore(passkeyStoreFile(dataDir)) });
}
