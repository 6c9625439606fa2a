// `resource_drift`: what changed outside of the engine, read by the same hostile-input scanner as
// `resource_changes`, kept apart from what the code changes, and never with a value.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { PlanJsonScanner, summarizePlanFile } from '../../src/plan/read-plan-json.ts';
import { createSummaryBuilder, emptyCounts, type PlanSummary, type RawResourceChange } from '../../src/plan/summary.ts';
import { PlanJsonError } from '../../src/plan/errors.ts';

const FIXTURES = new URL('./fixtures/', import.meta.url);
const CANARY = 'CANARY-9d1e-never-shown';
const HEAD = '"format_version":"1.2","terraform_version":"1"';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-plan-drift-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Doc = { format_version: string; terraform_version: string; resource_changes?: RawResourceChange[]; resource_drift?: RawResourceChange[] };

/** What a whole-document JSON.parse gives: the streaming reader must equal it. */
function referenceSummary(text: string, maxListed?: number): PlanSummary {
  const doc = JSON.parse(text) as Doc;
  const builder = createSummaryBuilder(maxListed === undefined ? {} : { maxListed });
  const slim = (e: RawResourceChange) => ({ address: e.address, mode: e.mode, ...(e.previous_address === undefined ? {} : { previous_address: e.previous_address }), change: { actions: e.change?.actions } });
  (doc.resource_changes ?? []).forEach((e, i) => builder.add(slim(e), i));
  (doc.resource_drift ?? []).forEach((e, i) => builder.addDrift(slim(e), i));
  return builder.finish({ formatVersion: doc.format_version, engineVersion: doc.terraform_version, errored: false });
}

function scanInChunks(text: string, sizes: number[], maxListed?: number): PlanSummary {
  const bytes = Buffer.from(text);
  const builder = createSummaryBuilder(maxListed === undefined ? {} : { maxListed });
  const scanner = new PlanJsonScanner((e, i) => builder.add(e, i), { onDrift: (e, i) => builder.addDrift(e, i) });
  let at = 0;
  for (let k = 0; at < bytes.length; k++) {
    const size = Math.max(1, sizes[k % sizes.length]!);
    scanner.push(bytes.subarray(at, at + size));
    at += size;
  }
  return builder.finish(scanner.end());
}

async function refused(name: string, text: string): Promise<PlanJsonError> {
  const path = join(dir, `${name.replace(/\W+/g, '-')}.json`);
  await writeFile(path, text);
  try {
    await summarizePlanFile(path);
  } catch (err) {
    assert.ok(err instanceof PlanJsonError, `expected a PlanJsonError, got ${String(err)}`);
    return err;
  }
  return assert.fail('expected the plan JSON to be refused');
}

describe('resource_drift in the terraform double\'s output (shaped as terraform reports drift)', () => {
  it('lists what drifted apart from what the code changes, with no value, at any chunk size', async () => {
    const path = new URL('double-drift.json', FIXTURES);
    const text = await readFile(path, 'utf8');
    assert.ok(text.includes(CANARY), 'the fixture carries the canary in a drifted value');
    const whole = await summarizePlanFile(path.pathname);
    assert.deepEqual(whole.drift, { changes: [{ address: 'terraform_data.a', action: 'update' }, { address: 'terraform_data.b', action: 'delete' }], listed: 2, total: 2 });
    // The code's own changes: a.input back to the config, b re-created, c new.
    assert.deepEqual(whole.counts, { ...emptyCounts(), create: 2, update: 1 });
    assert.equal(whole.total, 3);
    assert.ok(!JSON.stringify(whole).includes(CANARY));
    for (const size of [1, 7, 64, 100_000]) assert.deepEqual(scanInChunks(text, [size]), whole);
    assert.deepEqual(whole, referenceSummary(text));
  });

  it('a plan without drift has no drift field, so existing summaries stay as they were', async () => {
    const s = scanInChunks(`{${HEAD},"resource_changes":[{"address":"a.b","mode":"managed","change":{"actions":["create"]}}]}`, [5]);
    assert.equal(s.drift, undefined);
  });
});

describe('the scanner reads resource_drift only where terraform writes it', () => {
  it('ignores look-alikes in values, prior_state and entries; nothing is picked from drift', () => {
    const decoy = { address: 'decoy.x', mode: 'managed', change: { actions: ['delete'] } };
    const doc = {
      format_version: '1.2',
      terraform_version: '1.11.4',
      planned_values: { resource_drift: [decoy] },
      resource_drift: [{ address: 'real.drift', mode: 'managed', type: 't', change: { actions: ['update'], before: { resource_drift: [decoy] }, after: { secret: CANARY } } }],
      resource_changes: [{ address: 'real.change', mode: 'managed', type: 't', resource_drift: [decoy], change: { actions: ['update'], after: { secret: CANARY } } }],
      prior_state: { values: { resource_drift: [decoy] } },
    };
    const asked: string[] = [];
    const builder = createSummaryBuilder();
    const scanner = new PlanJsonScanner((e, i) => builder.add(e, i), {
      onDrift: (e, i) => builder.addDrift(e, i),
      picker: { pathsFor: (address) => (asked.push(address), ['secret']) },
    });
    scanner.push(Buffer.from(JSON.stringify(doc)));
    const s = builder.finish(scanner.end());
    assert.deepEqual(s.drift?.changes, [{ address: 'real.drift', action: 'update' }]);
    assert.deepEqual(s.changes, [{ address: 'real.change', action: 'update' }]);
    assert.deepEqual(asked, ['real.change']);
  });

  it('cuts the listed drift at maxListed but counts every drifted object', () => {
    const drift = Array.from({ length: 7 }, (_, i) => ({ address: `d.n${i}`, mode: 'managed', change: { actions: [i % 2 ? 'delete' : 'update'] } }));
    const text = JSON.stringify({ format_version: '1.2', terraform_version: '1', resource_drift: drift });
    const s = scanInChunks(text, [3], 4);
    assert.equal(s.drift?.total, 7);
    assert.equal(s.drift?.listed, 4);
    assert.deepEqual(s, referenceSummary(text, 4));
  });

  it('equals JSON.parse on random drift and changes at random chunk boundaries', () => {
    const entry = fc.record({
      address: fc.string({ minLength: 1, maxLength: 12 }),
      mode: fc.constant('managed'),
      change: fc.record({ actions: fc.constantFrom(['update'], ['delete'], ['no-op']), before: fc.jsonValue(), after: fc.jsonValue() }),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 6 }), fc.array(entry, { maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 5 }), (drift, changes, sizes) => {
        const text = JSON.stringify({ format_version: '1.2', terraform_version: '1', resource_drift: drift, resource_changes: changes });
        assert.deepEqual(scanInChunks(text, sizes), referenceSummary(text));
      }),
      { numRuns: 150 },
    );
  });
});

describe('summarizePlanFile refuses bad resource_drift', () => {
  const entry = (e: string) => `{${HEAD},"resource_drift":[${e}]}`;
  const invalid: Array<[string, string, RegExp]> = [
    ['resource_drift not an array', `{${HEAD},"resource_drift":{}}`, /`resource_drift` must be an array/],
    // Uint16 key bits would lose this key's bit (65536): the duplicate would pass unseen.
    ['a duplicate resource_drift', `{${HEAD},"resource_drift":[],"resource_drift":[]}`, /"resource_drift" appears twice/],
    ['a duplicate key in a drift entry', entry('{"address":"a","address":"b","change":{"actions":["update"]}}'), /"address" appears twice in resource_drift\[0\]/],
    ['a drift entry that is not an object', entry('{"address":"a","change":{"actions":["update"]}},7'), /resource_drift\[1\] must be an object/],
    ['a drift change that is not an object', entry('{"address":"a","change":["update"]}'), /resource_drift\[0\]\.change must be an object/],
    ['a drift that creates', entry('{"address":"a","change":{"actions":["create"]}}'), /resource_drift\[0\]\.change\.actions must be \["update"\] or \["delete"\]/],
    ['an unknown drift action', entry('{"address":"a","change":{"actions":["nuke"]}}'), /resource_drift\[0\]\.change\.actions .*got \["nuke"\]/],
    ['a drift without an address', entry('{"change":{"actions":["delete"]}}'), /resource_drift\[0\]\.address .*got undefined/],
    ['a drifted data source', entry('{"address":"data.a.b","mode":"data","change":{"actions":["update"]}}'), /resource_drift\[0\]\.mode must be "managed"/],
  ];
  for (const [label, text, pattern] of invalid) {
    it(label, async () => assert.match((await refused(label, text)).message, pattern));
  }

  it('refuses a drifted address too large to show', async () => {
    const err = await refused('huge-drift-address', entry(`{"address":"${'a'.repeat(3 << 20)}","change":{"actions":["update"]}}`));
    assert.match(err.message, /resource_drift\[0\]\.address is larger than/);
  });

  it('the entry index restarts per array, so errors name the right element', async () => {
    const text = `{${HEAD},"resource_drift":[{"address":"a","change":{"actions":["update"]}}],"resource_changes":[{"address":"b","change":{"actions":["nuke"]}}]}`;
    assert.match((await refused('index-per-array', text)).message, /resource_changes\[0\]\.change\.actions/);
  });
});
