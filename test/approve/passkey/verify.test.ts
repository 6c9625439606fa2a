// Real WebAuthn assertions (test/doubles/authenticator-double.ts) against the runner's verifier and gate:
// each hostile case is refused with its own code; the same assertion, made right, passes (the control).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashToken, newToken } from '../../../src/approve/approve.ts';
import { approvalChallenge, encodeChallengeFacts, registrationChallenge } from '../../../src/approve/passkey/challenge.ts';
import { passkeyConfigSchema } from '../../../src/approve/passkey/config.ts';
import { PasskeyError } from '../../../src/approve/passkey/errors.ts';
import { createPasskeyGate, factsOf, type PasskeyStep } from '../../../src/approve/passkey/gate.ts';
import { readRegistration, REGISTRATION_KIND } from '../../../src/approve/passkey/registration.ts';
import { PasskeyStore } from '../../../src/approve/passkey/store.ts';
import { verifyAssertion } from '../../../src/approve/passkey/verify.ts';
import { AuthenticatorDouble, type Alg, type AssertionKnobs } from '../../doubles/authenticator-double.ts';

const config = passkeyConfigSchema.parse({ origin: 'https://approve.example.net' });
const RP = config.rpId;
const ORIGIN = config.origin;

function stepFor(over: Partial<PasskeyStep> = {}): PasskeyStep & { nonce: string } {
  const nonce = newToken();
  return { runId: 'r-1', sha: 'a'.repeat(40), workspace: 'prod', planSha256: 'b'.repeat(64), tokenHash: hashToken(nonce), approver: 'alice', phase: 'approve', nonce, ...over };
}

async function registered(dir: string, alg: Alg, approver = 'alice') {
  const store = new PasskeyStore(path.join(dir, `passkeys-${alg}-${approver}-${newToken().slice(0, 12)}.json`));
  const key = new AuthenticatorDouble({ alg });
  const nonce = newToken();
  const file = JSON.stringify({ v: 1, kind: REGISTRATION_KIND, approver, nonce, response: key.register(registrationChallenge(approver, nonce), RP, ORIGIN) });
  await store.add(await readRegistration(file, approver, config));
  return { store, key, gate: createPasskeyGate({ config, modes: new Map([['alice', 'optional'], ['bob', 'optional']]), store }) };
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof PasskeyError) return err.code;
    throw err;
  }
  return 'accepted';
}

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'airlock-passkey-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

describe('the challenge', () => {
  it('is the sha256 of a canonical array of every fact, and changes with each of them', () => {
    const s = stepFor();
    const facts = factsOf(s, 'approve');
    assert.equal(encodeChallengeFacts(facts), JSON.stringify(['airlock-passkey-approval', '1', 'r-1', 'a'.repeat(40), 'prod', 'b'.repeat(64), 'approve', s.tokenHash]));
    const base = approvalChallenge(facts).toString('hex');
    for (const change of [{ runId: 'r-2' }, { sha: 'c'.repeat(40) }, { workspace: 'dev' }, { planSha256: 'd'.repeat(64) }, { decision: 'deny' as const }, { nonceSha256: hashToken('x') }]) {
      assert.notEqual(approvalChallenge({ ...facts, ...change }).toString('hex'), base, JSON.stringify(change));
    }
    // No field can run into the next: moving a character across a boundary changes the challenge.
    assert.notEqual(approvalChallenge({ ...facts, runId: 'r-1p', workspace: 'rod' }).toString('hex'), approvalChallenge({ ...facts, runId: 'r-1', workspace: 'prod' }).toString('hex'));
  });
});

for (const alg of ['ES256', 'EdDSA'] as const) {
  describe(`assertions (${alg})`, () => {
    it('accepts a user-verified assertion over the right challenge, and records a proof (control)', async () => {
      const { gate, key } = await registered(dir, alg);
      const s = stepFor();
      const proof = await gate.check(s, 'approve', key.assert(approvalChallenge(factsOf(s, 'approve')), RP, ORIGIN));
      assert.ok(proof);
      assert.equal(proof.credentialId, key.id);
      assert.equal(proof.nonceSha256, s.tokenHash);
      assert.equal(proof.decision, 'approve');
      assert.ok(!JSON.stringify(proof).includes(s.nonce), 'the nonce itself is not in the proof');
    });

    const hostile: Array<[string, (s: PasskeyStep) => { sign: PasskeyStep; decision?: 'approve' | 'deny'; knobs?: AssertionKnobs }, string]> = [
      ['another plan sha256', (s) => ({ sign: { ...s, planSha256: 'e'.repeat(64) } }), 'airlock:passkey-challenge'],
      ['another run', (s) => ({ sign: { ...s, runId: 'r-9' } }), 'airlock:passkey-challenge'],
      ['another commit', (s) => ({ sign: { ...s, sha: 'f'.repeat(40) } }), 'airlock:passkey-challenge'],
      ['another decision (signed deny, sent as approve)', (s) => ({ sign: s, decision: 'deny' }), 'airlock:passkey-challenge'],
      ['another request (nonce)', (s) => ({ sign: { ...s, tokenHash: hashToken(newToken()) } }), 'airlock:passkey-challenge'],
      ['a wrong origin', (s) => ({ sign: s, knobs: { origin: 'https://evil.example.org' } }), 'airlock:passkey-origin'],
      ['a cross-origin frame', (s) => ({ sign: s, knobs: { crossOrigin: true } }), 'airlock:passkey-origin'],
      ['a wrong RP ID', (s) => ({ sign: s, knobs: { rpId: 'evil.example.org' } }), 'airlock:passkey-rpid'],
      ['no user verification', (s) => ({ sign: s, knobs: { userVerified: false } }), 'airlock:passkey-user-verification'],
      ['no user presence', (s) => ({ sign: s, knobs: { userPresent: false } }), 'airlock:passkey-user-presence'],
      ['a registration, not an assertion', (s) => ({ sign: s, knobs: { type: 'webauthn.create' } }), 'airlock:passkey-malformed'],
    ];
    for (const [name, make, code] of hostile) {
      it(`refuses ${name} with ${code}`, async () => {
        const { gate, key } = await registered(dir, alg);
        const s = stepFor();
        const { sign, decision, knobs } = make(s);
        const assertion = key.assert(approvalChallenge(factsOf(sign, decision ?? 'approve')), RP, ORIGIN, knobs);
        assert.equal(await refusal(gate.check(s, 'approve', assertion)), code);
      });
    }

    it('refuses a tampered signature, authenticatorData or clientDataJSON (airlock:passkey-signature)', async () => {
      const { gate, key } = await registered(dir, alg);
      const s = stepFor();
      const good = key.assert(approvalChallenge(factsOf(s, 'approve')), RP, ORIGIN);
      const sig = Buffer.from(good.signature, 'base64url');
      sig[sig.length - 2]! ^= 1;
      assert.equal(await refusal(gate.check(s, 'approve', { ...good, signature: sig.toString('base64url') })), 'airlock:passkey-signature');
      // A flag bit the checks do not read (BE, 0x08) flipped: only the signature can tell.
      const ad = Buffer.from(good.authenticatorData, 'base64url');
      ad[32]! ^= 0x08;
      assert.equal(await refusal(gate.check(s, 'approve', { ...good, authenticatorData: ad.toString('base64url') })), 'airlock:passkey-signature');
      const client = JSON.parse(Buffer.from(good.clientDataJSON, 'base64url').toString()) as Record<string, unknown>;
      const edited = Buffer.from(JSON.stringify({ ...client, extra: 'x' })).toString('base64url');
      assert.equal(await refusal(gate.check(s, 'approve', { ...good, clientDataJSON: edited })), 'airlock:passkey-signature');
      assert.notEqual(await refusal(gate.check(s, 'approve', good)), 'airlock:passkey-signature', 'control: the untampered assertion verifies');
    });

    it('refuses an unregistered credential, and one registered to another approver', async () => {
      const { gate } = await registered(dir, alg);
      const stranger = new AuthenticatorDouble({ alg });
      const s = stepFor();
      assert.equal(await refusal(gate.check(s, 'approve', stranger.assert(approvalChallenge(factsOf(s, 'approve')), RP, ORIGIN))), 'airlock:passkey-unregistered');
      const bobs = await registered(dir, alg, 'bob');
      const both = createPasskeyGate({ config, modes: new Map(), store: bobs.store });
      const forAlice = bobs.key.assert(approvalChallenge(factsOf(s, 'approve')), RP, ORIGIN);
      assert.equal(await refusal(both.check(s, 'approve', forAlice)), 'airlock:passkey-unregistered');
      assert.equal(await refusal(both.check({ ...s, approver: 'bob' }, 'approve', forAlice)), 'accepted', 'control: the same assertion for bob who owns the key');
    });
  });
}

describe('the signature counter', () => {
  it('refuses a replayed assertion and a counter set back, once a counter was settled', async () => {
    const { gate, key } = await registered(dir, 'ES256');
    const s = stepFor();
    const assertion = key.assert(approvalChallenge(factsOf(s, 'approve')), RP, ORIGIN);
    const proof = await gate.check(s, 'approve', assertion);
    await gate.settle(proof!);
    assert.equal(await refusal(gate.check(s, 'approve', assertion)), 'airlock:passkey-counter-regression', 'the same assertion again');
    const s2 = stepFor();
    const back = key.assert(approvalChallenge(factsOf(s2, 'approve')), RP, ORIGIN, { counter: proof!.counter - 1 });
    assert.equal(await refusal(gate.check(s2, 'approve', back)), 'airlock:passkey-counter-regression');
    assert.equal(await refusal(gate.check(s2, 'approve', key.assert(approvalChallenge(factsOf(s2, 'approve')), RP, ORIGIN))), 'accepted', 'control: the next counter passes');
  });

  it('a key that keeps its counter at 0 (many passkeys) is not flagged', async () => {
    const { gate, key } = await registered(dir, 'EdDSA');
    for (let i = 0; i < 2; i++) {
      const s = stepFor();
      const proof = await gate.check(s, 'approve', key.assert(approvalChallenge(factsOf(s, 'approve')), RP, ORIGIN));
      assert.equal(proof?.counter, 0);
      await gate.settle(proof!);
    }
  });
});

describe('what needs a passkey', () => {
  it('a plain tap is refused where a passkey is required, by approver or by step', async () => {
    const store = new PasskeyStore(path.join(dir, 'none.json'));
    const s = stepFor();
    const byApprover = createPasskeyGate({ config, modes: new Map([['alice', 'required']]), store });
    assert.equal(await refusal(byApprover.check(s, 'approve', undefined)), 'airlock:passkey-required');
    assert.equal(await refusal(byApprover.check(s, 'deny', undefined)), 'accepted', 'a denial never needs one');
    const byStep = createPasskeyGate({ config, require: { approve: 'tap', confirm: 'passkey' }, modes: new Map(), store });
    assert.equal(await refusal(byStep.check({ ...s, phase: 'confirm' }, 'approve', undefined)), 'airlock:passkey-required');
    assert.equal(await refusal(byStep.check(s, 'approve', undefined)), 'accepted', 'control: the first step stays a tap');
  });
});

describe('registration', () => {
  it('refuses a file for another approver, another origin, or a challenge naming another approver', async () => {
    const key = new AuthenticatorDouble();
    const nonce = newToken();
    const make = (approver: string, origin = ORIGIN, challenge = registrationChallenge(approver, nonce)) =>
      JSON.stringify({ v: 1, kind: REGISTRATION_KIND, approver, nonce, response: key.register(challenge, RP, origin) });
    await assert.rejects(readRegistration(make('bob'), 'alice', config), { code: 'airlock:passkey-registration', message: /for "bob", not for alice/ });
    await assert.rejects(readRegistration(make('alice', 'https://evil.example.org'), 'alice', config), { code: 'airlock:passkey-registration' });
    await assert.rejects(readRegistration(make('alice', ORIGIN, registrationChallenge('bob', nonce)), 'alice', config), { code: 'airlock:passkey-registration' });
    const ok = await readRegistration(make('alice'), 'alice', config);
    assert.equal(ok.credentialId, key.id);
  });
});

describe('negative controls: each refusal comes from the check it names', () => {
  it('the hostile assertions verify when checked against what they claim (so the runner\'s own facts are what refuses them)', async () => {
    const { store, key } = await registered(dir, 'ES256');
    const credential = (await store.list())[0]!;
    const s = stepFor();
    const other = { ...factsOf(s, 'approve'), planSha256: 'e'.repeat(64) };
    const assertion = key.assert(approvalChallenge(other), RP, ORIGIN);
    await assert.rejects(verifyAssertion(assertion, credential, { challenge: approvalChallenge(factsOf(s, 'approve')), rpId: RP, origin: ORIGIN, checkCounter: true }), { code: 'airlock:passkey-challenge' });
    const ok = await verifyAssertion(assertion, credential, { challenge: approvalChallenge(other), rpId: RP, origin: ORIGIN, checkCounter: true });
    assert.equal(ok.credentialId, key.id);
  });

  it('a replayed assertion passes with the counter check off (so the counter check is what refuses it)', async () => {
    const { store, gate, key } = await registered(dir, 'ES256');
    const s = stepFor();
    const assertion = key.assert(approvalChallenge(factsOf(s, 'approve')), RP, ORIGIN);
    await gate.settle((await gate.check(s, 'approve', assertion))!);
    const credential = (await store.list())[0]!;
    const expected = { challenge: approvalChallenge(factsOf(s, 'approve')), rpId: RP, origin: ORIGIN };
    await assert.rejects(verifyAssertion(assertion, credential, { ...expected, checkCounter: true }), { code: 'airlock:passkey-counter-regression' });
    assert.equal((await verifyAssertion(assertion, credential, { ...expected, checkCounter: false })).credentialId, key.id);
  });
});
