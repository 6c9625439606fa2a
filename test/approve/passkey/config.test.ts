// `approval.passkey`, `approval.require` and each approver's `passkey`: what the config accepts, and the
// errors that name what is wrong.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { approvalSchema } from '../../../src/approve/config.ts';
import { needsPasskey } from '../../../src/approve/passkey/config.ts';

const ntfy = (passkey?: string) => ({
  url: 'https://ntfy.example.net',
  publishTokenFile: 'p',
  subscribeTokenFile: 's',
  approvers: [{ name: 'alice', notifyTopic: 'n-alice', replyTopic: 'r-alice', replyTokenFile: 'a', ...(passkey ? { passkey } : {}) }],
});
const issues = (input: unknown) => {
  const r = approvalSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('passkey config', () => {
  it('defaults: taps everywhere, every approver optional, the RP ID is the origin host', () => {
    const a = approvalSchema.parse({ channel: 'ntfy', ntfy: ntfy(), passkey: { origin: 'https://Approve.Example.net/' } });
    assert.deepEqual(a.require, { approve: 'tap', confirm: 'tap' });
    assert.equal(a.ntfy!.approvers[0]!.passkey, 'optional');
    assert.deepEqual(a.passkey, { origin: 'https://approve.example.net', rpId: 'approve.example.net', page: '/airlock-approve.html' });
    assert.equal(approvalSchema.parse({ channel: 'ntfy', ntfy: ntfy(), passkey: { origin: 'https://approve.example.net', rpId: 'example.net' } }).passkey!.rpId, 'example.net');
  });

  it('refuses a requirement with nowhere to sign, an RP ID the origin cannot use, and a plain-http origin', () => {
    assert.match(issues({ channel: 'ntfy', ntfy: ntfy(), require: { confirm: 'passkey' } }).join(), /^passkey: must be set, with `approval.channel: ntfy`/);
    assert.match(issues({ channel: 'ntfy', ntfy: ntfy('required') }).join(), /^passkey: must be set/);
    assert.match(issues({ channel: 'ntfy', ntfy: ntfy(), passkey: { origin: 'https://approve.example.net', rpId: 'other.net' } }).join(), /rpId: must be approve\.example\.net or a parent domain of it/);
    assert.match(issues({ channel: 'ntfy', ntfy: ntfy(), passkey: { origin: 'http://approve.example.net' } }).join(), /must be the HTTPS origin/);
    assert.match(issues({ channel: 'ntfy', ntfy: ntfy('always') }).join(), /ntfy\.approvers\.0\.passkey/);
    assert.deepEqual(issues({ channel: 'ntfy', ntfy: ntfy('required'), passkey: { origin: 'http://localhost:8080' }, require: { confirm: 'passkey' } }), [], 'control: the same, complete');
  });

  it('what a step needs, in a table', () => {
    const rows: Array<[Parameters<typeof needsPasskey>, boolean]> = [
      [[{ approve: 'tap', confirm: 'tap' }, 'optional', 'approve', 'approve'], false],
      [[{ approve: 'tap', confirm: 'passkey' }, 'optional', 'approve', 'approve'], false],
      [[{ approve: 'tap', confirm: 'passkey' }, 'optional', 'approve', 'confirm'], true],
      [[{ approve: 'passkey', confirm: 'tap' }, 'optional', 'approve', 'approve'], true],
      [[{ approve: 'tap', confirm: 'tap' }, 'required', 'approve', 'approve'], true],
      [[{ approve: 'passkey', confirm: 'passkey' }, 'required', 'deny', 'confirm'], false],
      [[undefined, undefined, 'approve', 'confirm'], false],
    ];
    for (const [args, want] of rows) assert.equal(needsPasskey(...args), want, JSON.stringify(args));
  });
});
