import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newToken } from '../../src/approve/approve.ts';
import { parseReply, renderReply } from '../../src/approve/reply.ts';

const nonce = newToken();

describe('parseReply', () => {
  it('round-trips what the buttons send', () => {
    assert.deepEqual(parseReply(renderReply(nonce, 'approve')), { nonce, decision: 'approve' });
    assert.deepEqual(parseReply(renderReply(nonce, 'deny')), { nonce, decision: 'deny' });
    assert.equal(renderReply(nonce, 'approve'), `{"v":1,"nonce":"${nonce}","decision":"approve"}`);
  });

  it('recognises the doctor probe', () => {
    assert.equal(parseReply('{"v":1,"probe":"airlock doctor"}'), 'probe');
  });

  const rows: Array<[string, unknown, RegExp]> = [
    ['no body', undefined, /no text body/],
    ['not JSON', 'approve please', /not JSON/],
    ['an array', '[1]', /not a JSON object/],
    ['wrong version', `{"v":2,"nonce":"${nonce}","decision":"approve"}`, /unsupported reply version 2/],
    ['no version', `{"nonce":"${nonce}","decision":"approve"}`, /unsupported reply version null/],
    ['extra field', `{"v":1,"nonce":"${nonce}","decision":"approve","runId":"r1"}`, /unexpected field\(s\) "runId"/],
    ['short nonce', '{"v":1,"nonce":"abc","decision":"approve"}', /nonce is missing/],
    ['nonce with odd characters', `{"v":1,"nonce":"${nonce.slice(0, 30)}/+=","decision":"approve"}`, /nonce is missing/],
    ['other decision', `{"v":1,"nonce":"${nonce}","decision":"apply"}`, /"approve" or "deny"/],
    ['huge body', `{"v":1,"nonce":"${'a'.repeat(2000)}","decision":"approve"}`, /a reply is under 1024/],
  ];
  for (const [label, body, reason] of rows) {
    it(`refuses ${label}`, () => {
      const parsed = parseReply(body);
      assert.ok(typeof parsed === 'object' && 'invalid' in parsed, JSON.stringify(parsed));
      assert.match(parsed.invalid, reason);
    });
  }
});
