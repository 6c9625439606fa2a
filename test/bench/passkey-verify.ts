// What a passkey adds to a decision: the runner's passkey step (store read, named checks, signature) per
// algorithm, beside the plain tap's own check (the nonce's sha256 compared in constant time), and how fast
// `audit verify --approvals` re-verifies recorded approvals offline.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { hashToken, newToken, tokenMatches } from '../../src/approve/approve.ts';
import { approvalChallenge, registrationChallenge } from '../../src/approve/passkey/challenge.ts';
import { passkeyConfigSchema } from '../../src/approve/passkey/config.ts';
import { createPasskeyGate, factsOf, type PasskeyProof } from '../../src/approve/passkey/gate.ts';
import { readRegistration, REGISTRATION_KIND } from '../../src/approve/passkey/registration.ts';
import { PasskeyStore } from '../../src/approve/passkey/store.ts';
import { verifyApprovalProofs } from '../../src/approve/passkey/verify-approvals.ts';
import { AuthenticatorDouble, type Alg } from '../doubles/authenticator-double.ts';
import { median, nowMs, round, type Benchmark, type BenchResult, type Figure } from './bench-support.ts';

const SAMPLES = 300;
const config = passkeyConfigSchema.parse({ origin: 'https://approve.example.net' });

async function measureAlg(dir: string, alg: Alg): Promise<{ checkUs: number; offlinePerS: number }> {
  const store = new PasskeyStore(path.join(dir, `${alg}.json`));
  const key = new AuthenticatorDouble({ alg });
  const regNonce = newToken();
  const credential = await readRegistration(JSON.stringify({ v: 1, kind: REGISTRATION_KIND, approver: 'alice', nonce: regNonce, response: key.register(registrationChallenge('alice', regNonce), config.rpId, config.origin) }), 'alice', config);
  await store.add(credential);
  const gate = createPasskeyGate({ config, modes: new Map(), store });
  const times: number[] = [];
  const records: Array<{ chain: string; record: { seq: number; type: string; run: string; subject: { sha: string; workspace: string }; plan: { sha256: string }; detail: Record<string, unknown> } }> = [
    { chain: 'c', record: { seq: 0, type: 'passkey.added', run: '', subject: { sha: '', workspace: '' }, plan: { sha256: '' }, detail: { credential } } },
  ];
  for (let i = 0; i < SAMPLES; i++) {
    const step = { runId: `r-${i}`, sha: 'a'.repeat(40), workspace: 'prod', planSha256: 'b'.repeat(64), tokenHash: hashToken(newToken()), approver: 'alice', phase: 'approve' as const };
    const assertion = key.assert(approvalChallenge(factsOf(step, 'approve')), config.rpId, config.origin);
    const t0 = nowMs();
    const proof = (await gate.check(step, 'approve', assertion)) as PasskeyProof;
    times.push(nowMs() - t0);
    await gate.settle(proof);
    records.push({ chain: 'c', record: { seq: i + 1, type: 'approval.granted', run: step.runId, subject: { sha: step.sha, workspace: step.workspace }, plan: { sha256: step.planSha256 }, detail: { approver: 'alice', passkey: proof } } });
  }
  const t0 = nowMs();
  const { proofs } = await verifyApprovalProofs(records);
  const elapsed = nowMs() - t0;
  if (proofs.length !== SAMPLES || proofs.some((p) => !p.ok)) throw new Error(`offline re-verification failed: ${proofs.filter((p) => !p.ok).length} of ${proofs.length}`);
  return { checkUs: median(times) * 1000, offlinePerS: (SAMPLES / elapsed) * 1000 };
}

export const passkeyVerify: Benchmark = {
  name: 'passkey',
  title: 'passkey approvals: the runner\'s check per decision, and offline re-verification',
  async run(): Promise<BenchResult> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'airlock-bench-passkey-'));
    try {
      const tap: number[] = [];
      const nonce = newToken();
      const stored = hashToken(nonce);
      for (let i = 0; i < SAMPLES; i++) {
        const t0 = nowMs();
        tokenMatches(nonce, stored);
        tap.push(nowMs() - t0);
      }
      const tapUs = median(tap) * 1000;
      const es = await measureAlg(dir, 'ES256');
      const ed = await measureAlg(dir, 'EdDSA');
      const figures: Figure[] = [
        { figure: 'passkey step per decision, ES256 (median)', value: round(es.checkUs), unit: 'µs', goal: '< 50 ms: invisible beside the human', met: es.checkUs < 50_000 },
        { figure: 'passkey step per decision, EdDSA (median)', value: round(ed.checkUs), unit: 'µs' },
        { figure: 'plain tap nonce check (median)', value: round(tapUs, 2), unit: 'µs' },
        { figure: 'passkey step / tap nonce check, ES256', value: round(es.checkUs / tapUs, 0), unit: '×' },
        { figure: 'offline re-verification, ES256', value: round(es.offlinePerS, 0), unit: 'approvals/s' },
        { figure: 'offline re-verification, EdDSA', value: round(ed.offlinePerS, 0), unit: 'approvals/s' },
      ];
      return { figures, data: { samples: SAMPLES }, notes: ['The passkey step includes reading passkeys.json; settle (the counter write) is outside the timed part.'] };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
