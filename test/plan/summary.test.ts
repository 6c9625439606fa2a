import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  actionOf,
  createSummaryBuilder,
  isDestructive,
  needsApproval,
  type ChangeAction,
  type PlanSummary,
  type RawResourceChange,
} from '../../src/plan/summary.ts';
import { PlanJsonError } from '../../src/plan/errors.ts';
import { hasCode } from '../../src/errors.ts';

const META = { formatVersion: '1.2', engineVersion: '1.11.4', errored: false };
const CANARY = 'CANARY-c4n4ry-value';

function entry(address: string, actions: unknown, mode = 'managed'): RawResourceChange {
  return {
    address,
    mode,
    type: 'aws_s3_bucket',
    change: { actions, before: { secret: CANARY }, after: { secret: CANARY }, after_unknown: {}, before_sensitive: {}, after_sensitive: { secret: true }, replace_paths: [[CANARY]] },
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
  it('counts every action, reads and no-ops included, and totals only changes', () => {
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
    assert.deepEqual(s.counts, { create: 1, update: 1, delete: 1, replace: 2, forget: 1, read: 1, noop: 2 });
    assert.equal(s.total, 6);
    assert.equal(s.listed, 6);
    assert.equal(s.formatVersion, '1.2');
    assert.equal(s.engineVersion, '1.11.4');
    assert.equal(s.errored, false);
    assert.ok(isDestructive(s));
    assert.ok(needsApproval(s));
  });

  it('does not list reads or no-ops, and a plan of only those needs no approval', () => {
    const s = summarize([entry('data.a.x', ['read'], 'data'), entry('a.y', ['no-op'])]);
    assert.deepEqual(s.changes, []);
    assert.equal(s.total, 0);
    assert.equal(s.listed, 0);
    assert.equal(needsApproval(s), false);
    assert.equal(isDestructive(s), false);
  });

  it('an empty plan is a complete no-op summary', () => {
    const s = summarize([]);
    assert.deepEqual(s, {
      ...META,
      counts: { create: 0, update: 0, delete: 0, replace: 0, forget: 0, read: 0, noop: 0 },
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
    assert.deepEqual(s.counts, { create: 0, update: 300, delete: 0, replace: 1, forget: 0, read: 0, noop: 0 });
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

const RANK: Record<ChangeAction, number> = { delete: 0, replace: 1, forget: 2, create: 3, update: 4 };
const ACTIONS = [['no-op'], ['create'], ['read'], ['update'], ['delete'], ['delete', 'create'], ['create', 'delete'], ['forget'], ['forget', 'create']];

describe('createSummaryBuilder properties', () => {
  it('counts are complete, destructive entries come first, the list is the ordered prefix, no value leaks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...ACTIONS), { maxLength: 300 }),
        fc.integer({ min: 0, max: 60 }),
        (plan, maxListed) => {
          const entries = plan.map((actions, i) => entry(`res.r${i}`, actions, actions[0] === 'read' ? 'data' : 'managed'));
          const s = summarize(entries, maxListed);

          // Counts sum to the number of entries, and total is the changed part.
          const c = s.counts;
          assert.equal(c.create + c.update + c.delete + c.replace + c.forget + c.read + c.noop, plan.length);
          assert.equal(s.total, c.create + c.update + c.delete + c.replace + c.forget);
          assert.equal(s.listed, s.changes.length);
          assert.ok(s.listed <= maxListed);
          assert.equal(s.listed, Math.min(maxListed, s.total));

          // Every destructive entry precedes any create/update, and the groups are in order.
          for (let i = 1; i < s.changes.length; i++) {
            assert.ok(RANK[s.changes[i - 1]!.action] <= RANK[s.changes[i]!.action]);
          }
          // The listing is exactly the first maxListed of the full order (so deletes are never dropped for updates).
          const full = entries
            .map((e, i) => ({ address: e.address as string, action: actionOf(e.change!.actions), i }))
            .filter((x): x is { address: string; action: ChangeAction; i: number } => x.action !== 'read' && x.action !== 'noop')
            .sort((a, b) => RANK[a.action] - RANK[b.action] || a.i - b.i)
            .map(({ address, action }) => ({ address, action }));
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
