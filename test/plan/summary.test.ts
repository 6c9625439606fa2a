import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  actionOf,
  createSummaryBuilder,
  emptyCounts,
  isDestructive,
  listingOf,
  LISTING_ORDER,
  needsApproval,
  type PlanSummary,
  type RawResourceChange,
} from '../../src/plan/summary.ts';
import { PlanJsonError } from '../../src/plan/errors.ts';
import { hasCode } from '../../src/errors.ts';

const META = { formatVersion: '1.2', engineVersion: '1.11.4', errored: false };
const CANARY = 'CANARY-c4n4ry-value';

function entry(address: string, actions: unknown, mode = 'managed', extra: { previous_address?: string; importing?: boolean } = {}): RawResourceChange {
  return {
    address,
    ...(extra.previous_address ? { previous_address: extra.previous_address } : {}),
    mode,
    type: 'aws_s3_bucket',
    change: { actions, before: { secret: CANARY }, after: { secret: CANARY }, after_unknown: {}, before_sensitive: {}, after_sensitive: { secret: true }, replace_paths: [[CANARY]], ...(extra.importing ? { importing: true } : {}) },
  } as RawResourceChange;
}

function summarize(entries: RawResourceChange[], maxListed?: number): PlanSummary {
  const builder = createSummaryBuilder(maxListed === undefined ? {} : { maxListed });
  entries.forEach((e, i) => builder.add(e, i));
  return builder.finish(META);
}

describe('actionOf', () => {
  const rows: Array<[unknown, string]> = [
    [['no-op'], 'noop'],
    [['create'], 'create'],
    [['read'], 'read'],
    [['update'], 'update'],
    [['delete'], 'delete'],
    [['forget'], 'forget'],
    [['delete', 'create'], 'replace'],
    [['create', 'delete'], 'replace'],
    [['forget', 'create'], 'replace'],
    [['create', 'forget'], 'replace'],
  ];
  for (const [actions, expected] of rows) {
    it(`${JSON.stringify(actions)} → ${expected}`, () => assert.equal(actionOf(actions), expected));
  }

  const bad: unknown[] = [
    undefined,
    null,
    'create',
    [],
    ['explode'],
    ['Create'],
    ['constructor'],
    ['toString'],
    [1],
    [['create']],
    ['delete', 'create', 'update'],
    ['delete', 'teleport'],
    ['delete', 7],
    { 0: 'create', length: 1 },
  ];
  for (const actions of bad) {
    it(`refuses ${JSON.stringify(actions) ?? 'undefined'}`, () => {
      assert.throws(
        () => actionOf(actions),
        (err: unknown) => {
          assert.ok(err instanceof PlanJsonError);
          assert.ok(hasCode(err, 'airlock:plan-json'));
          assert.ok(err.message.includes(JSON.stringify(actions) ?? 'undefined'), err.message);
          return true;
        },
      );
    });
  }

  it('truncates a long bad value to 80 characters', () => {
    const long = ['x'.repeat(500)];
    assert.throws(() => actionOf(long), (err: Error) => {
      const shown = err.message.slice(err.message.indexOf('got ') + 4);
      assert.equal([...shown].length, 80);
      assert.ok(shown.endsWith('…'));
      return true;
    });
  });

  it('shows control and bidi characters in a bad value as escapes', () => {
    assert.throws(() => actionOf(['\u202Edelete\x1b[0m']), (err: Error) => {
      assert.ok(!/[\u202E\x1b]/.test(err.message));
      assert.ok(err.message.includes('\\u{202e}'));
      return true;
    });
  });
});

describe('createSummaryBuilder counts', () => {
  it('counts every action, no-ops included, and totals everything the apply does', () => {
    const s = summarize([
      entry('a.create', ['create']),
      entry('a.update', ['update']),
      entry('a.delete', ['delete']),
      entry('a.replace1', ['delete', 'create']),
      entry('a.replace2', ['create', 'delete']),
      entry('a.forget', ['forget']),
      entry('data.a.read', ['read'], 'data'),
      entry('data.a.noop', ['no-op'], 'data'),
      entry('a.noop', ['no-op']),
    ]);
    assert.deepEqual(s.counts, { ...emptyCounts(), create: 1, update: 1, delete: 1, replace: 2, forget: 1, read: 1, noop: 2 });
    assert.equal(s.total, 7);
    assert.equal(s.listed, 7);
    assert.equal(s.formatVersion, '1.2');
    assert.equal(s.engineVersion, '1.11.4');
    assert.equal(s.errored, false);
    assert.ok(isDestructive(s));
    assert.ok(needsApproval(s));
  });

  // A read in a plan runs at apply time, with the apply identity: it used to be left out, and a plan of
  // only deferred reads showed as "no changes".
  it('lists a deferred read and needs approval for it; only no-ops need none', () => {
    const s = summarize([entry('data.a.x', ['read'], 'data'), entry('a.y', ['no-op'])]);
    assert.deepEqual(s.changes, [{ address: 'data.a.x', action: 'read' }]);
    assert.equal(s.total, 1);
    assert.equal(needsApproval(s), true);
    assert.equal(isDestructive(s), false);
    assert.equal(needsApproval(summarize([entry('a.y', ['no-op'])])), false);
  });

  it('lists imports and moves that change nothing else, and notes them on changes that do', () => {
    const s = summarize([
      entry('a.imported', ['no-op'], 'managed', { importing: true }),
      entry('a.moved', ['no-op'], 'managed', { previous_address: 'a.old' }),
      entry('a.both', ['update'], 'managed', { importing: true, previous_address: 'a.before' }),
      entry('a.same', ['no-op'], 'managed', { previous_address: 'a.same' }),
    ]);
    assert.deepEqual(s.changes, [
      { address: 'a.imported', action: 'import', imported: true },
      { address: 'a.moved', action: 'move', movedFrom: 'a.old' },
      { address: 'a.both', action: 'update', movedFrom: 'a.before', imported: true },
    ]);
    assert.deepEqual(s.counts, { ...emptyCounts(), import: 1, move: 1, update: 1, noop: 1, imported: 2, moved: 2 });
    assert.equal(s.total, 3);
  });

  it('lists root output changes; unchanged outputs are not changes', () => {
    const builder = createSummaryBuilder();
    builder.add(entry('a.y', ['no-op']), 0);
    builder.addOutput('endpoint', ['update']);
    builder.addOutput('same', ['no-op']);
    builder.addOutput('gone', ['delete']);
    const s = builder.finish(META);
    assert.deepEqual(s.changes, [{ address: 'output.endpoint', action: 'output' }, { address: 'output.gone', action: 'output' }]);
    assert.equal(s.counts.output, 2);
    assert.equal(s.total, 2);
    assert.throws(() => createSummaryBuilder().addOutput('x', ['read']), PlanJsonError);
    assert.throws(() => createSummaryBuilder().addOutput('x', 'create'), PlanJsonError);
  });

  it('an empty plan is a complete no-op summary', () => {
    const s = summarize([]);
    assert.deepEqual(s, {
      ...META,
      counts: emptyCounts(),
      changes: [],
      listed: 0,
      total: 0,
    });
  });

  it('creates and updates only: approval but not destructive; forget alone is not destructive', () => {
    assert.equal(isDestructive(summarize([entry('a.b', ['create']), entry('a.c', ['update'])])), false);
    const forget = summarize([entry('a.b', ['forget'])]);
    assert.equal(isDestructive(forget), false);
    assert.equal(needsApproval(forget), true);
  });

  it('carries errored through', () => {
    const b = createSummaryBuilder();
    assert.equal(b.finish({ ...META, errored: true }).errored, true);
  });
});

describe('createSummaryBuilder ordering', () => {
  it('lists deletes, then replaces, then forgets, then creates, then updates, each in plan order', () => {
    const s = summarize([
      entry('u1', ['update']),
      entry('c1', ['create']),
      entry('d1', ['delete']),
      entry('f1', ['forget']),
      entry('r1', ['create', 'delete']),
      entry('c2', ['create']),
      entry('d2', ['delete']),
      entry('u2', ['update']),
      entry('r2', ['delete', 'create']),
    ]);
    assert.deepEqual(
      s.changes.map((c) => `${c.action}:${c.address}`),
      ['delete:d1', 'delete:d2', 'replace:r1', 'replace:r2', 'forget:f1', 'create:c1', 'create:c2', 'update:u1', 'update:u2'],
    );
  });

  it('300 updates then one replace: the replace is listed first', () => {
    const entries = Array.from({ length: 300 }, (_, i) => entry(`aws_instance.u[${i}]`, ['update']));
    entries.push(entry('aws_db_instance.main', ['delete', 'create']));
    const s = summarize(entries);
    assert.deepEqual(s.changes[0], { address: 'aws_db_instance.main', action: 'replace' });
    assert.equal(s.listed, 301);
    assert.equal(s.total, 301);
  });

  it('with maxListed 10, a replace that comes last still evicts an update', () => {
    const entries = Array.from({ length: 300 }, (_, i) => entry(`aws_instance.u[${i}]`, ['update']));
    entries.push(entry('aws_db_instance.main', ['delete', 'create']));
    const s = summarize(entries, 10);
    assert.equal(s.listed, 10);
    assert.equal(s.changes.length, 10);
    assert.deepEqual(s.changes[0], { address: 'aws_db_instance.main', action: 'replace' });
    assert.deepEqual(
      s.changes.slice(1).map((c) => c.address),
      Array.from({ length: 9 }, (_, i) => `aws_instance.u[${i}]`),
    );
    assert.deepEqual(s.counts, { ...emptyCounts(), update: 300, replace: 1 });
    assert.equal(s.total, 301);
  });

  it('when the list is full of deletes, later deletes are dropped but still counted', () => {
    const entries = Array.from({ length: 20 }, (_, i) => entry(`d${i}`, ['delete']));
    entries.push(entry('c0', ['create']));
    const s = summarize(entries, 5);
    assert.deepEqual(s.changes.map((c) => c.address), ['d0', 'd1', 'd2', 'd3', 'd4']);
    assert.equal(s.counts.delete, 20);
    assert.equal(s.counts.create, 1);
  });

  it('a delete evicts an update before a create, and a create evicts an update', () => {
    const s = summarize([entry('c0', ['create']), entry('u0', ['update']), entry('d0', ['delete']), entry('c1', ['create'])], 2);
    assert.deepEqual(s.changes.map((c) => c.address), ['d0', 'c0']);
  });

  it('maxListed 0 lists nothing and keeps counts', () => {
    const s = summarize([entry('d0', ['delete'])], 0);
    assert.deepEqual(s.changes, []);
    assert.equal(s.counts.delete, 1);
    assert.equal(s.total, 1);
  });

  it('refuses a maxListed that is not a whole number', () => {
    assert.throws(() => createSummaryBuilder({ maxListed: -1 }), RangeError);
    assert.throws(() => createSummaryBuilder({ maxListed: 1.5 }), RangeError);
  });
});

describe('createSummaryBuilder refuses malformed entries, naming the index and the value', () => {
  const rows: Array<[string, unknown, RegExp]> = [
    ['not an object', 'aws_s3_bucket.a', /resource_changes\[4\] must be an object, got "aws_s3_bucket\.a"/],
    ['null', null, /resource_changes\[4\] must be an object, got null/],
    ['missing address', { mode: 'managed', change: { actions: ['create'] } }, /resource_changes\[4\]\.address .*got undefined/],
    ['numeric address', { address: 42, change: { actions: ['create'] } }, /resource_changes\[4\]\.address .*got 42/],
    ['empty address', { address: '', change: { actions: ['create'] } }, /resource_changes\[4\]\.address .*got ""/],
    ['unknown mode', { address: 'a.b', mode: 'magic', change: { actions: ['create'] } }, /resource_changes\[4\]\.mode .*got "magic"/],
    ['missing change', { address: 'a.b', mode: 'managed' }, /resource_changes\[4\]\.change\.actions .*got undefined/],
    ['change is null', { address: 'a.b', change: null }, /resource_changes\[4\]\.change\.actions .*got undefined/],
    ['unknown action', { address: 'a.b', change: { actions: ['obliterate'] } }, /resource_changes\[4\]\.change\.actions .*got \["obliterate"\]/],
    ['actions not an array', { address: 'a.b', change: { actions: 'delete' } }, /resource_changes\[4\]\.change\.actions .*got "delete"/],
    ['three actions', { address: 'a.b', change: { actions: ['delete', 'create', 'delete'] } }, /resource_changes\[4\].*got \["delete","create","delete"\]/],
    ['read of a managed resource', { address: 'a.b', mode: 'managed', change: { actions: ['read'] } }, /resource_changes\[4\].*"read".*got mode "managed"/],
  ];
  for (const [label, bad, pattern] of rows) {
    it(label, () => {
      const builder = createSummaryBuilder();
      for (let i = 0; i < 4; i++) builder.add(entry(`ok${i}`, ['create']), i);
      assert.throws(
        () => builder.add(bad as RawResourceChange, 4),
        (err: unknown) => {
          assert.ok(err instanceof PlanJsonError, String(err));
          assert.equal(err.code, 'airlock:plan-json');
          assert.match(err.message, pattern);
          return true;
        },
      );
    });
  }
});

const rank = (action: string) => LISTING_ORDER.indexOf(action as (typeof LISTING_ORDER)[number]);
const ACTIONS = [['no-op'], ['create'], ['read'], ['update'], ['delete'], ['delete', 'create'], ['create', 'delete'], ['forget'], ['forget', 'create']];
const FLAGS = fc.record({ importing: fc.boolean(), moved: fc.boolean() });

describe('createSummaryBuilder properties', () => {
  it('counts are complete, destructive entries come first, the list is the ordered prefix, no value leaks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...ACTIONS), FLAGS), { maxLength: 300 }),
        fc.integer({ min: 0, max: 60 }),
        (plan, maxListed) => {
          const entries = plan.map(([actions, f], i) =>
            actions[0] === 'read' ? entry(`data.r${i}`, actions, 'data') : entry(`res.r${i}`, actions, 'managed', { importing: f.importing, ...(f.moved ? { previous_address: `res.old${i}` } : {}) }),
          );
          const s = summarize(entries, maxListed);

          // Every entry is counted once, by how it is listed or as a no-op; total is everything listed.
          const c = s.counts;
          const listedKinds = LISTING_ORDER.reduce((n, a) => n + c[a], 0);
          assert.equal(listedKinds + c.noop, plan.length);
          assert.equal(s.total, listedKinds);
          assert.equal(s.listed, s.changes.length);
          assert.ok(s.listed <= maxListed);
          assert.equal(s.listed, Math.min(maxListed, s.total));

          // Every destructive entry precedes any create/update, and the groups are in order.
          for (let i = 1; i < s.changes.length; i++) {
            assert.ok(rank(s.changes[i - 1]!.action) <= rank(s.changes[i]!.action));
          }
          // The listing is exactly the first maxListed of the full order (so deletes are never dropped for updates).
          const full = entries
            .map((e, i) => ({ listed: listingOf(e), i }))
            .filter((x) => x.listed !== null)
            .sort((a, b) => rank(a.listed!.action) - rank(b.listed!.action) || a.i - b.i)
            .map(({ listed }) => listed);
          assert.deepEqual(s.changes, full.slice(0, maxListed));

          assert.ok(!JSON.stringify(s).includes(CANARY));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is deterministic', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...ACTIONS.filter((a) => a[0] !== 'read')), { maxLength: 100 }), (plan) => {
        const entries = plan.map((actions, i) => entry(`r${i}`, actions));
        assert.deepEqual(summarize(entries, 7), summarize(entries, 7));
      }),
    );
  });
});
