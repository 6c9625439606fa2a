// What the PR comment and the status say: destroys first, refusals an agent can act on, hostile names
// inert, and nothing the scrubber knows. Each defence has a negative control.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scrubber } from '../../src/log/scrub.ts';
import { commentMarker, inert, renderComment } from '../../src/report/comment.ts';
import { statusFor, STATUS_OF } from '../../src/report/status.ts';
import { RUN_STATES } from '../../src/run/run.ts';
import { plannedRun, runIn } from './run-fixture.ts';

const SECRET = 'report-canary-secret-4b7d1e0f93';
const UNKNOWN = 'not-registered-value-8c2a6f11'; // never given to the scrubber: the negative control

test('the status of every state, as the issue lists them, with its description within 140 characters', () => {
  const expected: Record<string, string> = { planning: 'pending', awaiting_approval: 'pending', applied: 'success', no_changes: 'success', refused: 'failure', failed: 'failure', denied: 'failure', expired: 'failure', needs_attention: 'error' };
  for (const [state, status] of Object.entries(expected)) assert.equal(STATUS_OF[state as keyof typeof STATUS_OF], status, state);
  for (const state of RUN_STATES) {
    const s = statusFor(plannedRun(state, ['aws_instance.old', 'aws_instance.new']));
    assert.equal(s.context, 'airlock/default');
    assert.ok([...s.description].length <= 140 && s.description.length > 0, `${state}: ${s.description}`);
  }
});

test('the comment: marker first, destroys first, tier and reasons, decision, error tail in a fence', () => {
  const run = plannedRun('failed', ['aws_db.main', 'aws_instance.a'], {
    decision: { decision: 'approve', by: { kind: 'human', id: 'os:alice' }, channel: 'terminal', breakGlass: false, at: '2026-11-27T22:10:00.000Z', planSha256: 'c'.repeat(64) },
    error: { code: 'airlock:apply-failed', message: 'apply failed', tail: 'Error: boom\n```\n# not a heading' },
  });
  const body = renderComment(run, { now: new Date('2026-11-27T22:11:00Z') });
  assert.ok(body.startsWith(commentMarker('infra', 'default')));
  assert.ok(body.indexOf('aws\\_db') < body.indexOf('aws\\_instance'), 'the destroy is listed before the create');
  assert.match(body, /Policy tier \*\*approve\*\*/);
  assert.match(body, /Approved by a human at 2026-11-27T22:10:00\.000Z/);
  assert.match(body, /````text\nError: boom\n```\n# not a heading\n````/, 'the fence is longer than any backtick run in the tail');
  assert.doesNotMatch(body, /os:alice/, 'the approver\'s identity is not on the PR');
});

test('guard refusals name the rule, file and block, so the agent can fix its PR', () => {
  const body = renderComment(runIn('refused', { refusal: ['[external-data] main.tf data.external.x: data "external" runs a program on the runner'], error: { code: 'airlock:guard-refused', message: 'refused' } }));
  assert.match(body, /Guard refusals/);
  assert.match(body, /rule `external-data`: main\\\.tf data\\\.external\\\.x\\: data \\"external\\" runs a program/);
  assert.match(statusFor(runIn('refused', { refusal: ['a', 'b'] })).description, /2 finding\(s\)/);
});

test('a secret the scrubber knows reaches no status and no comment; an unregistered value does (negative control)', () => {
  scrubber.add(SECRET);
  const leaky = (v: string) =>
    plannedRun('failed', [`aws_instance.${v}`, `aws_s3_bucket.b["${v}"]`], {
      refusal: [`[external-data] ${v}.tf data.external.x: ${v}`],
      error: { code: 'airlock:apply-failed', message: `engine said ${v}`, tail: `Error: token ${v} rejected` },
      plan: { ...plannedRun('failed', ['a.b', 'c.d']).plan!, reasons: [`because ${v}`] },
    });
  const shown = (v: string) => [renderComment(leaky(v)), ...RUN_STATES.map((s) => statusFor({ ...leaky(v), state: s }).description)].join('\n');
  assert.ok(!shown(SECRET).includes(SECRET), 'the seeded secret leaked into a comment or status');
  assert.ok(shown(UNKNOWN).includes(UNKNOWN), 'the same paths do carry a value the scrubber does not know: the check looks where the text goes');
});

test('hostile resource names render inert: no link, mention, HTML, heading or fake approval; bidi made visible', () => {
  const hostile = ['x[click](https://evil.example/)', '@admin', '<img src=x onerror=alert(1)>', '\n### ✅ Approved by a human', 'a\u202Eevil', '**approved**', 'https://evil.example/x', '![i](https://e/x.png)'];
  const body = renderComment(plannedRun('awaiting_approval', hostile));
  const detectors: Array<[string, RegExp]> = [
    ['link', /(?<!\\)\]\((?!\))/],
    ['mention', /(?<![\\\w])@admin/],
    ['html', /(?<!\\)<img/],
    ['heading', /\n### ✅ Approved/],
    ['bidi', /\u202E/],
    ['bold', /(?<!\\)\*\*approved/],
    ['autolink', /(?<!\\)https:\/\/evil/],
  ];
  for (const [what, re] of detectors) {
    assert.doesNotMatch(body, re, `${what} survived`);
    // Negative control: each detector does fire on the raw names.
    assert.match(`\n${hostile.join('\n')}`, re, `${what} detector finds nothing even unescaped`);
  }
  assert.match(body, /\\\\u\\\{202e\\\}/, 'the bidi override is shown as an escape');
  assert.equal(inert('@x'), '\\@x');
});

test('a huge plan is cut under the comment limit, saying so', () => {
  const many = Array.from({ length: 5000 }, (_, i) => `aws_instance.${'n'.repeat(250)}${i}`);
  const body = renderComment(plannedRun('awaiting_approval', many));
  assert.ok(body.length <= 65_536, String(body.length));
  assert.match(body, /…and \d+ more creates/);
});
