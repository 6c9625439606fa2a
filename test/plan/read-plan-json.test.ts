import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { PlanJsonScanner, summarizePlanFile } from '../../src/plan/read-plan-json.ts';
import { createSummaryBuilder, emptyCounts, type PlanSummary, type RawResourceChange } from '../../src/plan/summary.ts';
import { PlanJsonError } from '../../src/plan/errors.ts';
import { writeSyntheticPlan } from './generate-plan-json.ts';

const FIXTURES = new URL('./fixtures/', import.meta.url);
const CANARY = 'CANARY-9d1e-never-shown';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-plan-json-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The summary a whole-document JSON.parse gives: what the streaming reader must equal. */
function referenceSummary(text: string, maxListed?: number): PlanSummary {
  const doc = JSON.parse(text) as { format_version: string; terraform_version: string; errored?: boolean; resource_changes?: RawResourceChange[]; output_changes?: Record<string, { actions: unknown }> };
  const builder = createSummaryBuilder(maxListed === undefined ? {} : { maxListed });
  (doc.resource_changes ?? []).forEach((e, i) => {
    const importing = e.change?.importing !== undefined && e.change.importing !== null;
    builder.add({ address: e.address, mode: e.mode, ...(e.previous_address === undefined ? {} : { previous_address: e.previous_address }), change: { actions: e.change?.actions, ...(importing ? { importing: true } : {}) } }, i);
  });
  for (const [name, o] of Object.entries(doc.output_changes ?? {})) builder.addOutput(name, o.actions);
  return builder.finish({ formatVersion: doc.format_version, engineVersion: doc.terraform_version, errored: doc.errored ?? false });
}

/** Scan `text` in chunks of the given sizes (cycled), as the file stream would hand them over. */
function scanInChunks(text: string | Buffer, sizes: number[], maxListed?: number): PlanSummary {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  const builder = createSummaryBuilder(maxListed === undefined ? {} : { maxListed });
  const scanner = new PlanJsonScanner((e, i) => builder.add(e, i), { onOutput: (name, actions) => builder.addOutput(name, actions) });
  let at = 0;
  for (let k = 0; at < bytes.length; k++) {
    const size = Math.max(1, sizes[k % sizes.length]!);
    scanner.push(bytes.subarray(at, at + size));
    at += size;
  }
  return builder.finish(scanner.end());
}

async function writeTemp(name: string, text: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function planJsonError(promise: Promise<unknown>): Promise<PlanJsonError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof PlanJsonError, `expected a PlanJsonError, got ${String(err)}`);
    assert.equal(err.code, 'airlock:plan-json');
    return err;
  }
  assert.fail('expected the plan JSON to be refused');
}

describe('summarizePlanFile on real Terraform output', () => {
  const rows: Array<[string, Partial<PlanSummary['counts']>, PlanSummary['changes']]> = [
    ['real-create.json', { create: 1 }, [{ address: 'terraform_data.a', action: 'create' }]],
    ['real-update.json', { update: 1 }, [{ address: 'terraform_data.a', action: 'update' }]],
    ['real-replace.json', { replace: 1 }, [{ address: 'terraform_data.a', action: 'replace' }]],
    ['real-delete.json', { delete: 1 }, [{ address: 'terraform_data.a', action: 'delete' }]],
    ['real-noop.json', {}, []],
    // issue 11: what the first reader missed, each as terraform 1.11.4 wrote it (test/doubles/README.md)
    ['real-moved.json', { move: 1, moved: 1 }, [{ address: 'terraform_data.b', action: 'move', movedFrom: 'terraform_data.a' }]],
    ['real-forget.json', { forget: 1 }, [{ address: 'terraform_data.a', action: 'forget' }]],
    ['real-cbd.json', { replace: 1 }, [{ address: 'terraform_data.a', action: 'replace' }]],
    ['real-read.json', { read: 1, create: 1 }, [{ address: 'data.terraform_remote_state.s', action: 'read' }, { address: 'terraform_data.a', action: 'create' }]],
    ['real-check-read.json', { read: 1, create: 1 }, [{ address: 'data.terraform_remote_state.s', action: 'read' }, { address: 'terraform_data.a', action: 'create' }]],
    ['real-import-noop.json', { import: 1, imported: 1 }, [{ address: 'terraform_data.a', action: 'import', imported: true }]],
    ['real-import-update.json', { update: 1, imported: 1 }, [{ address: 'terraform_data.a', action: 'update', imported: true }]],
    ['real-outputs.json', { create: 1, output: 3, noop: 1 }, [{ address: 'terraform_data.b', action: 'create' }, { address: 'output.gone', action: 'output' }, { address: 'output.sec', action: 'output' }, { address: 'output.u', action: 'output' }]],
  ];
  for (const [file, counts, changes] of rows) {
    it(file, async () => {
      const path = new URL(file, FIXTURES).pathname;
      const s = await summarizePlanFile(path);
      assert.deepEqual(s, {
        formatVersion: '1.2',
        engineVersion: '1.11.4',
        counts: { ...emptyCounts(), ...counts },
        changes,
        listed: changes.length,
        total: changes.length,
        errored: false,
      });
      assert.deepEqual(s, referenceSummary(await readFile(path, 'utf8')));
      // The fixtures' attribute values and ids never reach the summary.
      assert.ok(!/"(x|y|t1)"|cce42a11/.test(JSON.stringify(s)));
    });
  }
});

describe('summarizePlanFile on an errored plan (terraform writes the -out file when planning fails)', () => {
  it('real-errored.json is read as errored, with what was planned before the failure', async () => {
    const s = await summarizePlanFile(new URL('real-errored.json', FIXTURES).pathname);
    assert.equal(s.errored, true);
    assert.deepEqual(s.changes, [{ address: 'terraform_data.a', action: 'create' }]);
  });
});

describe('summarizePlanFile on generated plans', () => {
  const cases: Array<[string, Parameters<typeof writeSyntheticPlan>[1]]> = [
    ['mixed terraform plan', { changes: 400, valueBytes: 300, canary: CANARY, seed: 1 }],
    ['mixed opentofu plan, errored', { changes: 250, valueBytes: 50, canary: CANARY, seed: 2, engine: 'opentofu', errored: true }],
    ['pretty-printed', { changes: 120, valueBytes: 80, canary: CANARY, seed: 3, pretty: true }],
    ['only updates', { changes: 300, canary: CANARY, seed: 4, actionsMix: { update: 1 } }],
    ['no changes at all', { changes: 0, canary: CANARY }],
  ];
  for (const [label, opts] of cases) {
    it(`${label} equals the JSON.parse reference and never carries the canary`, async () => {
      const path = join(dir, `${label.replace(/\W+/g, '-')}.json`);
      const written = await writeSyntheticPlan(path, opts);
      const text = await readFile(path, 'utf8');
      assert.ok(text.includes(CANARY), 'the canary is in the file');
      for (const maxListed of [undefined, 10]) {
        const s = await summarizePlanFile(path, maxListed === undefined ? {} : { maxListed });
        assert.deepEqual(s, referenceSummary(text, maxListed));
        assert.ok(!JSON.stringify(s).includes(CANARY));
        assert.equal(s.counts.create, written.counts.create);
        assert.equal(s.counts.replace, written.counts.replace);
        assert.equal(s.counts.read, written.counts.read);
      }
    });
  }

  it('gives the same summary whatever the chunk boundaries', async () => {
    const path = join(dir, 'chunks.json');
    await writeSyntheticPlan(path, { changes: 40, valueBytes: 40, canary: CANARY, seed: 9 });
    const text = await readFile(path);
    const expected = referenceSummary(text.toString('utf8'));
    for (const sizes of [[1], [2], [3], [7, 1, 13], [64], [1000, 1]]) {
      assert.deepEqual(scanInChunks(text, sizes), expected, `chunk sizes ${sizes.join(',')}`);
    }
  });

  it('a file with no resource_changes is an empty, valid no-op summary', async () => {
    const path = await writeTemp('empty-plan.json', '{"format_version":"1.2","terraform_version":"1.9.0","planned_values":{},"errored":false}');
    const s = await summarizePlanFile(path);
    assert.equal(s.total, 0);
    assert.deepEqual(s.changes, []);
    assert.equal(s.engineVersion, '1.9.0');
  });

  it('an empty resource_changes array and a missing errored are a no-op plan', async () => {
    const path = await writeTemp('empty-array.json', ' {"format_version":"1.0","terraform_version":"1.5.7","resource_changes":[]}\n');
    const s = await summarizePlanFile(path);
    assert.equal(s.total, 0);
    assert.equal(s.errored, false);
  });
});

describe('the scanner reads what the apply does besides changing objects', () => {
  it('imports, moves and outputs, never their values; names decoded as JSON.parse does, at any chunk size', () => {
    const doc = {
      format_version: '1.2',
      terraform_version: '1.11.4',
      resource_changes: [
        { address: 'a.imported', mode: 'managed', change: { actions: ['no-op'], importing: { id: CANARY } } },
        { address: 'a.not_imported', mode: 'managed', change: { importing: null, actions: ['no-op'] } },
        { previous_address: 'a.old', address: 'a.new', mode: 'managed', change: { actions: ['no-op'] } },
        { address: 'a.same', previous_address: 'a.same', mode: 'managed', change: { actions: ['no-op'] } },
      ],
      output_changes: {
        'p\u0430y': { actions: ['create'], after: CANARY },
        ['o'.repeat(1500)]: { after: CANARY, actions: ['update'] },
        quiet: { actions: ['no-op'], before: CANARY, after: CANARY },
      },
    };
    const text = JSON.stringify(doc).replace('p\u0430y', 'p\\u0430y');
    for (const size of [1, 3, 64, 100_000]) {
      const s = scanInChunks(text, [size]);
      // A name too long to hold is still a change, listed under a placeholder.
      assert.deepEqual(s.changes, [
        { address: 'a.imported', action: 'import', imported: true },
        { address: 'a.new', action: 'move', movedFrom: 'a.old' },
        { address: 'output.p\u0430y', action: 'output' },
        { address: 'output.(a name longer than 1024 bytes)', action: 'output' },
      ]);
      assert.deepEqual(s.counts, { ...emptyCounts(), import: 1, imported: 1, move: 1, moved: 1, noop: 2, output: 2 });
      assert.ok(!JSON.stringify(s).includes(CANARY));
    }
  });
});

describe('the scanner reads only the right keys', () => {
  it('ignores look-alike keys nested in values, prior_state and planned_values', () => {
    const doc = {
      format_version: '1.2',
      terraform_version: '1.11.4',
      planned_values: { root_module: { resources: [{ address: 'decoy.planned', mode: 'managed', change: { actions: ['delete'] } }] } },
      resource_changes: [
        {
          address: 'aws_s3_bucket.real',
          mode: 'managed',
          change: {
            actions: ['update'],
            before: { address: 'decoy.before', previous_address: 'decoy.moved', importing: { id: 'decoy' }, actions: ['delete'], change: { actions: ['delete'] }, resource_changes: [{ address: 'x', change: { actions: ['delete'] } }] },
            after: { format_version: '9.0', errored: true, mode: 'data', output_changes: { decoy: { actions: ['create'] } }, note: `${CANARY} "quoted" \\ ] } [ {` },
          },
          provider_name: 'decoy.provider',
        },
      ],
      prior_state: { format_version: '9.9', terraform_version: '0.0.1', errored: true, resource_changes: 'decoy' },
      variables: { password: { value: CANARY } },
      errored: false,
    };
    const text = JSON.stringify(doc);
    const s = scanInChunks(text, [5]);
    assert.deepEqual(s, referenceSummary(text));
    assert.deepEqual(s.changes, [{ address: 'aws_s3_bucket.real', action: 'update' }]);
    assert.equal(s.formatVersion, '1.2');
    assert.equal(s.engineVersion, '1.11.4');
    assert.equal(s.errored, false);
    assert.ok(!JSON.stringify(s).includes(CANARY));
  });

  it('decodes escaped keys and addresses as JSON.parse does', () => {
    const text =
      '{"format_version":"1.2","terraform_version":"1.11.4","resource_changes":[' +
      '{"addr\\u0065ss":"aws_s3_bucket.b[\\"k\\\\\\"]\\"]","mode":"managed","change":{"act\\u0069ons":["create"]}},' +
      '{"address":"x.\\u202e\\u0430\\ud83d\\ude00","mode":"managed","change":{"actions":["delete"]}}]}';
    for (const sizes of [[1], [3], [1 << 20]]) {
      const s = scanInChunks(text, sizes);
      assert.deepEqual(s, referenceSummary(text));
      assert.deepEqual(s.changes.map((c) => c.address), ['x.\u202e\u0430\u{1F600}', 'aws_s3_bucket.b["k\\"]"]']);
    }
  });

  it('equals JSON.parse for random values around the keys it reads, at random chunk boundaries', () => {
    const noise = fc.jsonValue({ maxDepth: 3 });
    const change = fc.record({
      address: fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }),
      mode: fc.constant('managed'),
      change: fc.record({ actions: fc.constantFrom(['create'], ['delete'], ['update'], ['delete', 'create'], ['forget']), before: noise, after: noise }),
      extra: noise,
    });
    fc.assert(
      fc.property(
        fc.record({ variables: noise, resource_changes: fc.array(change, { maxLength: 8 }), prior_state: noise }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        (parts, sizes, pretty) => {
          const doc = { format_version: '1.2', ...parts, terraform_version: '1.11.4', errored: false };
          const text = pretty ? JSON.stringify(doc, null, 2) : JSON.stringify(doc);
          assert.deepEqual(scanInChunks(text, sizes, 5), referenceSummary(text, 5));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('summarizePlanFile refuses bad plan JSON', () => {
  it('names the byte offset of a truncated file', async () => {
    const full = Buffer.from((await readFile(new URL('real-replace.json', FIXTURES), 'utf8')).trimEnd());
    for (const cut of [1, 37, 200, 900, full.length - 1]) {
      const path = await writeTemp(`truncated-${cut}.json`, full.subarray(0, cut));
      const err = await planJsonError(summarizePlanFile(path));
      assert.match(err.message, new RegExp(`ends early at byte ${cut}\\b`));
      assert.equal(err.byteOffset, cut);
    }
  });

  it('every proper prefix of a generated plan is refused', async () => {
    const path = join(dir, 'prefixes.json');
    await writeSyntheticPlan(path, { changes: 3, valueBytes: 30, canary: CANARY });
    const text = (await readFile(path)).subarray(0, -1); // without the trailing newline
    for (let cut = 0; cut < text.length; cut++) {
      assert.throws(() => scanInChunks(text.subarray(0, cut), [17]), PlanJsonError, `prefix of ${cut} bytes`);
    }
    assert.doesNotThrow(() => scanInChunks(text, [17]));
  });

  const invalid: Array<[string, string, RegExp]> = [
    ['empty file', '', /empty/],
    ['not an object', '[{"format_version":"1.2"}]', /at byte 0: the plan JSON must be an object/],
    ['a missing comma', '{"format_version":"1.2" "terraform_version":"1"}', /at byte 24: expected ','/],
    ['a bad literal', '{"format_version":"1.2","terraform_version":"1","errored":nope}', /at byte 58: invalid literal "n"/],
    ['a bad number', '{"format_version":"1.2","x":01,"terraform_version":"1"}', /at byte 28: invalid literal "01"/],
    ['a mismatched bracket', '{"format_version":"1.2","x":[1,2}', /at byte 32: expected ',' or '\]'/],
    ['a trailing comma', '{"format_version":"1.2","x":[1,]}', /at byte 31: expected a value/],
    ['data after the end', '{"format_version":"1.2","terraform_version":"1"} {}', /at byte 49: unexpected data after the end/],
    ['an unquoted key', '{format_version:"1.2"}', /at byte 1: expected a key/],
    ['a raw control character in a read value', '{"format_version":"1.2","terraform_version":"1\u0001"}', /at byte 44: terraform_version is not valid JSON/],
    ['format_version 2', '{"format_version":"2.0","terraform_version":"2.0.0","resource_changes":[]}', /unsupported plan JSON format_version "2\.0"/],
    ['format_version not a string', '{"format_version":1.2,"terraform_version":"1"}', /format_version must be a string, got 1\.2/],
    ['no format_version', '{"terraform_version":"1.11.4","resource_changes":[]}', /no `format_version`/],
    ['no terraform_version', '{"format_version":"1.2"}', /no `terraform_version`/],
    ['errored not a boolean', '{"format_version":"1.2","terraform_version":"1","errored":"no"}', /errored must be true or false, got "no"/],
    ['resource_changes not an array', '{"format_version":"1.2","terraform_version":"1","resource_changes":{}}', /`resource_changes` must be an array/],
    ['an element that is not an object', '{"format_version":"1.2","terraform_version":"1","resource_changes":[{"address":"a.b","change":{"actions":["create"]}},"a.c"]}', /resource_changes\[1\] must be an object/],
    ['change not an object', '{"format_version":"1.2","terraform_version":"1","resource_changes":[{"address":"a.b","change":["create"]}]}', /resource_changes\[0\]\.change must be an object/],
    ['an unknown action', '{"format_version":"1.2","terraform_version":"1","resource_changes":[{"address":"a.b","change":{"actions":["create"]}},{"address":"a.c","change":{"actions":["nuke"]}}]}', /resource_changes\[1\]\.change\.actions .*got \["nuke"\]/],
    ['a missing address', '{"format_version":"1.2","terraform_version":"1","resource_changes":[{"change":{"actions":["delete"]}}]}', /resource_changes\[0\]\.address .*got undefined/],
    ['a duplicate resource_changes', '{"format_version":"1.2","terraform_version":"1","resource_changes":[],"resource_changes":[]}', /"resource_changes" appears twice/],
    ['a duplicate actions', '{"format_version":"1.2","terraform_version":"1","resource_changes":[{"address":"a","change":{"actions":["delete"],"actions":["no-op"]}}]}', /"actions" appears twice in resource_changes\[0\]/],
    ['an unterminated string', '{"format_version":"1.2","terraform_version":"1","x":"abc\\"}', /ends early at byte 59 inside a string/],
    ['nesting too deep', `{"format_version":"1.2","x":${'['.repeat(20_000)}`, /nested deeper than 10000/],
  ];
  for (const [label, text, pattern] of invalid) {
    it(label, async () => {
      const err = await planJsonError(summarizePlanFile(await writeTemp(`${label.replace(/\W+/g, '-')}.json`, text)));
      assert.match(err.message, pattern);
    });
  }

  it('refuses an address too large to show', async () => {
    const text = `{"format_version":"1.2","terraform_version":"1","resource_changes":[{"address":"${'a'.repeat(3 << 20)}","change":{"actions":["create"]}}]}`;
    const err = await planJsonError(summarizePlanFile(await writeTemp('huge-address.json', text)));
    assert.match(err.message, /resource_changes\[0\]\.address is larger than/);
  });

  it('names a file it cannot read', async () => {
    const err = await planJsonError(summarizePlanFile(join(dir, 'does-not-exist.json')));
    assert.match(err.message, /cannot read the plan JSON/);
  });
});
