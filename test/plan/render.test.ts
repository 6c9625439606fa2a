import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderSummaryText, type RenderContext } from '../../src/plan/render.ts';
import { createSummaryBuilder, type PlanSummary, type RawResourceChange } from '../../src/plan/summary.ts';

const CTX: RenderContext = {
  repo: 'acme/infra',
  workspace: 'prod',
  pr: 7,
  sha: 'c0ffee1234567890c0ffee1234567890c0ffee12',
  planSha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
};

function summaryOf(entries: Array<[string, string[]]>, opts: { maxListed?: number; errored?: boolean } = {}): PlanSummary {
  const builder = createSummaryBuilder(opts);
  entries.forEach(([address, actions], i) => builder.add({ address, mode: 'managed', change: { actions } } as RawResourceChange, i));
  return builder.finish({ formatVersion: '1.2', engineVersion: '1.11.4', errored: opts.errored ?? false });
}

describe('renderSummaryText', () => {
  it('renders header, counts and every change with destroys first', () => {
    const s = summaryOf([
      ['aws_instance.web', ['update']],
      ['aws_s3_bucket.new', ['create']],
      ['aws_db_instance.main', ['delete']],
      ['aws_iam_role.old', ['forget']],
      ['aws_lb.front', ['create', 'delete']],
    ]);
    assert.equal(
      renderSummaryText(s, { ...CTX, author: 'agent-bot' }),
      [
        'Plan for acme/infra · workspace prod · PR #7 · commit c0ffee1 · plan sha256 9f86d081884c…',
        'Author: agent-bot',
        'Engine 1.11.4 · plan format 1.2',
        '1 to destroy, 1 to replace, 1 to create, 1 to update, 1 to forget',
        '  -   aws_db_instance.main',
        '  -/+ aws_lb.front',
        '  x   aws_iam_role.old',
        '  +   aws_s3_bucket.new',
        '  ~   aws_instance.web',
      ].join('\n'),
    );
  });

  it('says so when there is nothing to change, and shows a missing PR', () => {
    const text = renderSummaryText(summaryOf([['data.x.y', ['no-op']]]), { ...CTX, pr: null });
    assert.match(text, /· no PR ·/);
    assert.match(text, /^0 to destroy, 0 to replace, 0 to create, 0 to update$/m);
    assert.match(text, /^No changes\.$/m);
  });

  it('warns about an errored plan', () => {
    assert.match(renderSummaryText(summaryOf([], { errored: true }), CTX), /WARNING: the plan errored/);
  });

  it('with the list cut by the summary, the cut line gives exact per-action remainders', () => {
    const entries: Array<[string, string[]]> = Array.from({ length: 300 }, (_, i) => [`aws_instance.u[${i}]`, ['update']]);
    entries.push(['aws_db_instance.main', ['delete', 'create']], ['aws_s3_bucket.c', ['create']]);
    const text = renderSummaryText(summaryOf(entries, { maxListed: 10 }), CTX);
    const lines = text.split('\n');
    assert.equal(lines[2], '0 to destroy, 1 to replace, 1 to create, 300 to update');
    assert.equal(lines[3], '  -/+ aws_db_instance.main');
    assert.equal(lines[4], '  +   aws_s3_bucket.c');
    assert.equal(lines.at(-1), '  …and 292 more updates');
    assert.equal(lines.filter((l) => l.startsWith('  ~ ')).length, 8);
  });

  it('with maxLines, names every remaining action and uses the singular for one', () => {
    const s = summaryOf([
      ['d.a', ['delete']],
      ['d.b', ['delete']],
      ['r.a', ['delete', 'create']],
      ['c.a', ['create']],
      ['c.b', ['create']],
      ['u.a', ['update']],
    ]);
    const lines = renderSummaryText(s, CTX, { maxLines: 1 }).split('\n');
    assert.equal(lines.at(-2), '  -   d.a');
    assert.equal(lines.at(-1), '  …and 1 more delete, 1 more replace, 2 more creates, 1 more update');
  });

  it('shows attacker-controlled text as visible escapes and flags homoglyphs', () => {
    const s = summaryOf([
      ['aws_s3_bucket.x["\x1b[2J\x1b[32mall good\u202E"]', ['delete']],
      ['aws_iam_user.p\u0430ypal', ['create']],
      ['aws_iam_user.b\nfake line', ['create']],
      ['aws_iam_user.\u0440\u0430\u0443', ['create']], // all Cyrillic: "рау" reads as "pay"; no mixed word
    ]);
    const text = renderSummaryText(s, { ...CTX, repo: 'acme/\u202Einfra', workspace: 'pr\u0435d', author: 'bot\x1b]8;;http://x\x07' });
    assert.ok(!/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202A-\u202E\u2066-\u2069]/.test(text), JSON.stringify(text));
    assert.match(text, /aws_s3_bucket\.x\["\\u\{1b\}\[2J\\u\{1b\}\[32mall good\\u\{202e\}"\]/);
    assert.match(text, /aws_iam_user\.pаypal {2}\[!\] non-ASCII: look-alike letters\?/);
    assert.match(text, /aws_iam_user\.рау {2}\[!\] non-ASCII: look-alike letters\?/);
    assert.match(text, /aws_iam_user\.b\\u\{a\}fake line$/m);
    assert.match(text, /workspace prеd \[!\]/);
    assert.equal(text.split('\n').length, 8);
  });

  it('colours only its own markers', () => {
    const s = summaryOf([
      ['a.red\x1b[31m', ['delete']],
      ['a.b', ['create']],
    ]);
    const text = renderSummaryText(s, CTX, { color: true });
    const escapes = [...text.matchAll(/\x1b\[[0-9;]*m/g)].map((m) => m.index);
    assert.equal(escapes.length, 4);
    assert.ok(text.includes('  \x1b[31m-\x1b[0m   a.red\\u{1b}[31m'));
    assert.ok(text.includes('  \x1b[32m+\x1b[0m   a.b'));
    assert.ok(!renderSummaryText(s, CTX).includes('\x1b'));
  });
});
