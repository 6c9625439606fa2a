// The phone summary: byte budget, destroys first, complete counts, identity of the plan, hostile names.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fitBytes, PHONE_MESSAGE_BYTES, PHONE_TITLE_BYTES, phoneText, renderPhoneConfirm, renderPhoneRequest, type PhoneContext } from '../../src/approve/phone-summary.ts';
import { createSummaryBuilder, type PlanSummary, type RawResourceChange } from '../../src/plan/summary.ts';

const ACTIONS: Record<string, string[]> = {
  create: ['create'],
  update: ['update'],
  delete: ['delete'],
  replace: ['delete', 'create'],
  forget: ['forget'],
};

/** A summary built the way the runner builds it, from resource_changes in plan order. */
function summarize(changes: Array<[string, keyof typeof ACTIONS]>): PlanSummary {
  const builder = createSummaryBuilder();
  changes.forEach(([address, action], i) => builder.add({ address, mode: 'managed', change: { actions: ACTIONS[action] } } as RawResourceChange, i));
  return builder.finish({ formatVersion: '1.2', engineVersion: '1.11.4', errored: false });
}

const CTX: PhoneContext = {
  repo: 'infra',
  workspace: 'prod',
  pr: 42,
  sha: 'c0ffee1234567890c0ffee1234567890c0ffee12',
  planSha256: 'ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12',
  author: 'Agent Smith <agent@example.com>',
  runId: 'r0123456789abcde',
  expiresAt: new Date('2030-01-02T03:04:05Z'),
};

const bytes = (s: string) => Buffer.byteLength(s);

describe('renderPhoneRequest', () => {
  it('300 updates and one replace placed last: the replace is listed first, the rest counted, within budget', () => {
    const plan: Array<[string, keyof typeof ACTIONS]> = [...Array.from({ length: 300 }, (_, i): [string, 'update'] => [`aws_instance.web[${i}]`, 'update']), ['aws_db_instance.main', 'replace']];
    const { title, message } = renderPhoneRequest(summarize(plan), CTX);
    const lines = message.split('\n');
    const firstChange = lines.findIndex((l) => /^(-|-\/\+|\+|~|x) /.test(l));
    assert.equal(lines[firstChange], '-/+ aws_db_instance.main', 'the replace comes before every update');
    assert.ok(bytes(message) <= PHONE_MESSAGE_BYTES, `${bytes(message)} bytes`);
    assert.ok(bytes(title) <= PHONE_TITLE_BYTES);
    assert.match(message, /0 to destroy, 1 to replace, 0 to create, 300 to update/);
    const shownUpdates = lines.filter((l) => l.startsWith('~ ')).length;
    assert.ok(shownUpdates > 10 && shownUpdates < 300, `${shownUpdates} updates listed`);
    assert.ok(lines.includes(`…and ${300 - shownUpdates} more updates`), 'the cut line counts the rest');
    assert.match(message, /This destroys 1 resource: approving asks for a second tap\./);
  });

  it('shows the PR, short sha, author, workspace, plan hash prefix, run id and expiry', () => {
    const { title, message } = renderPhoneRequest(summarize([['terraform_data.a', 'create']]), CTX);
    assert.equal(title, 'Approve? infra/prod PR #42: 0 destroy, 0 replace, 1 create, 0 update');
    assert.equal(
      message,
      [
        'PR #42 · commit c0ffee1 · author Agent Smith <agent[@]example.com>',
        'infra / prod · plan sha256 ab12cd34ef56 · run r0123456789abcde',
        '0 to destroy, 0 to replace, 1 to create, 0 to update',
        '+ terraform_data.a',
        'Expires 2030-01-02 03:04 UTC.',
      ].join('\n'),
    );
  });

  it('shows why the policy asks (at most three reasons), escaped', () => {
    const reasons = ['[protected] aws_iam_role.admin', '[limits] 60 changes', '[x] three', '[y] four'];
    const { message } = renderPhoneRequest(summarize([['aws_iam_role.admin', 'update']]), { ...CTX, reasons });
    const why = message.split('\n').filter((l) => l.startsWith('Why: ') || l.startsWith('…and 1 more reasons'));
    assert.deepEqual(why, ['Why: [protected] aws_iam_role.admin', 'Why: [limits] 60 changes', 'Why: [x] three', '…and 1 more reasons (airlock show)']);
  });

  it('a branch run without a PR says so', () => {
    const { title, message } = renderPhoneRequest(summarize([['a.b', 'create']]), { ...CTX, pr: null });
    assert.match(title, /infra\/prod \(no PR\)/);
    assert.match(message, /^no PR · commit/);
  });

  it('hostile names come out escaped: bidi override, homoglyph, ANSI colour, Markdown link', () => {
    const hostile: Array<[string, keyof typeof ACTIONS]> = [
      ['aws_s3_bucket.logs\u202Etxt.exe', 'delete'],
      ['aws_iam_role.\u0430dmin', 'delete'], // Cyrillic 'а'
      ['aws_instance.\x1b[31mred', 'update'],
      ['aws_instance.x["[click me](https://evil.example/approve)"]', 'create'],
      ['aws_instance.zw\u200Bj', 'create'],
      ['aws_iam_user.\u0440\u0430\u0443', 'update'], // "рау" is all Cyrillic: no word mixes scripts, it reads "pay"
    ];
    const { message } = renderPhoneRequest(summarize(hostile), { ...CTX, author: 'Mallory \u202Eroot <m@evil.example>' });
    assert.doesNotMatch(message, /[\u202E\u200B\x1b]/u, 'no raw control, bidi or zero-width character');
    assert.ok(message.includes('logs\\u{202e}txt'), 'U+202E shown as a visible code point');
    assert.ok(message.includes('zw\\u{200b}j'), 'U+200B shown as a visible code point');
    assert.ok(message.includes('\\u{1b}[31mred'), 'ESC shown as a visible code point');
    assert.match(message, /aws_iam_role\.\u0430dmin \[!\] non-ASCII/, 'the homoglyph is flagged');
    assert.match(message, /aws_iam_user\.\u0440\u0430\u0443 \[!\] non-ASCII/, 'a name of look-alike letters only is flagged');
    assert.ok(message.includes('[click me](https[:]//evil.example/approve)'), 'the link is defanged, shown as plain text');
    assert.doesNotMatch(message, /https:\/\//, 'no URL the app could turn into a link');
    assert.ok(message.includes('Mallory \\u{202e}root <m[@]evil.example>'), 'the author is escaped too');
  });
});

describe('renderPhoneConfirm', () => {
  it('leads with what gets destroyed, by name, and keeps the counts complete', () => {
    const summary = summarize([['a.create', 'create'], ['b.gone', 'delete'], ['c.swap', 'replace'], ['d.changed', 'update']]);
    const { title, message } = renderPhoneConfirm(summary, CTX);
    assert.equal(title, 'Confirm: this destroys 2 resources · infra/prod PR #42');
    const lines = message.split('\n');
    assert.deepEqual(lines.slice(0, 3), ['Confirm: this destroys 2 resources:', '- b.gone', '-/+ c.swap']);
    assert.ok(lines.includes('…and 1 more create, 1 more update'));
    assert.ok(lines.includes('1 to destroy, 1 to replace, 1 to create, 1 to update'));
    assert.match(message, /Only this second tap lets the apply go\.$/);
  });
});

describe('fitBytes and phoneText', () => {
  it('cuts on a code point boundary, within the byte limit', () => {
    assert.equal(fitBytes('abc', 3), 'abc');
    assert.equal(fitBytes('abcdef', 5), 'ab…');
    assert.equal(fitBytes('😀😀😀', 9), '😀…');
    assert.ok(Buffer.byteLength(fitBytes('é'.repeat(500), 200)) <= 200);
  });
  it('shows names as plain text (no Markdown backslashes), defangs links, makes hidden characters visible', () => {
    assert.equal(phoneText('**bold**'), '**bold**');
    assert.equal(phoneText('terraform_data.vm_grafana'), 'terraform_data.vm_grafana');
    assert.equal(phoneText('a\nb'), 'a\\u{a}b');
    assert.equal(phoneText('see https://evil.example/x and www.evil.example, or m@evil.example', 200), 'see https[:]//evil.example/x and www[.]evil.example, or m[@]evil.example');
    assert.equal(phoneText('HTTP://E.X'), 'HTTP[:]//E.X');
  });
});

describe('property: any plan, any names', () => {
  const action = fc.constantFrom<keyof typeof ACTIONS>('create', 'update', 'delete', 'replace', 'forget');
  const name = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 400 }), fc.string({ unit: 'binary', maxLength: 400 }), fc.constantFrom('\u202E', '\x1b[31m', '[x](http://e.x)', '\u0430dmin'));
  // The summary builder refuses an empty address, as the runner does.
  const plans = fc.array(fc.tuple(name.filter((n) => n !== ''), action), { maxLength: 400 });
  const contexts = fc.record({ author: fc.option(name, { nil: undefined }), pr: fc.option(fc.integer({ min: 1, max: 2 ** 31 }), { nil: null }), reasons: fc.array(name, { maxLength: 5 }) });

  it('fits the budget, lists destroys first, keeps counts complete, shows nothing hidden', () => {
    fc.assert(
      fc.property(plans, contexts, fc.boolean(), (plan, extra, confirm) => {
        const summary = summarize(plan);
        const ctx = { ...CTX, ...extra };
        const { title, message } = confirm ? renderPhoneConfirm(summary, ctx) : renderPhoneRequest(summary, ctx);
        assert.ok(bytes(message) <= PHONE_MESSAGE_BYTES, `message is ${bytes(message)} bytes`);
        assert.ok(bytes(title) <= PHONE_TITLE_BYTES, `title is ${bytes(title)} bytes`);
        // Hidden characters never pass; the only line breaks are ours.
        assert.doesNotMatch(message.replace(/\n/g, ''), /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
        assert.doesNotMatch(title, /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
        const lines = message.split('\n');
        const shown = lines.filter((l) => /^(-|-\/\+|x|\+|~) /.test(l)).map((l) => l.split(' ')[0]);
        const marker: Record<string, string> = { '-': 'delete', '-/+': 'replace', x: 'forget', '+': 'create', '~': 'update' };
        const order = ['delete', 'replace', 'forget', 'create', 'update'];
        const ranks = shown.map((m) => order.indexOf(marker[m!]!));
        assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b), 'destroys first, then the rest in listing order');
        // shown + "…and N more" adds up to the complete count of every action
        const cut = lines.find((l) => l.startsWith('…and ')) ?? '';
        for (const a of order) {
          const listed = shown.filter((m) => marker[m!] === a).length;
          const noun = a === 'delete' ? 'deletes?' : `${a}s?`;
          const more = Number(new RegExp(`(\\d+) more ${noun}(,|$)`).exec(cut)?.[1] ?? 0);
          assert.equal(listed + more, summary.counts[a as 'create'], `${a}: ${listed} listed + ${more} more`);
        }
        if (!confirm) assert.ok(lines.some((l) => l.startsWith(`${summary.counts.delete} to destroy, ${summary.counts.replace} to replace`)), 'the counts line');
      }),
      { numRuns: 300 },
    );
  });
});
