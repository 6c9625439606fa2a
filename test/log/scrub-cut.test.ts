// A secret cut by a tail, a length cap or an excerpt is still scrubbed: the canary is printed so that the cut
// lands at every offset inside it, in every form it travels in (as is, upper-cased, hex, base64url, and
// base64 at each byte alignment inside a longer blob). Each case first shows the raw cut text does hold the
// fragment (the test can fail), then that the scrubbed text does not.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createOutputCollector, OUTPUT_TAIL } from '../../src/engine/output-collector.ts';
import { base64Cores, SCRUBBED, Scrubber, scrubber as processScrubber } from '../../src/log/scrub.ts';
import { engineOutputTail } from '../../src/jobs/plan-job.ts';
import { fitBytes } from '../../src/approve/phone-summary.ts';
import { visibleText } from '../../src/lib/untrusted-text.ts';

const CANARY = 'cut-canary-Q7w2Zp9Lx4Rk';

/** The forms a tool might print the canary in, each as it would appear inside surrounding text. */
function printedForms(secret: string): Array<[string, string]> {
  const bytes = Buffer.from(secret);
  return [
    ['as is', secret],
    ['upper-cased', secret.toUpperCase()],
    ['hex', bytes.toString('hex')],
    ['HEX', bytes.toString('hex').toUpperCase()],
    ['base64url', bytes.toString('base64url')],
    ...[0, 1, 2].map((align): [string, string] => [`base64 inside a blob, alignment ${align}`, base64Cores(bytes, 'base64')[align]!]),
  ];
}

function scrubberWith(secret: string): Scrubber {
  const s = new Scrubber();
  s.add(secret);
  return s;
}

describe('forms of a secret', () => {
  it('case-folded, hex, base64url and base64 at every alignment inside a longer blob are scrubbed', () => {
    const s = scrubberWith(CANARY);
    for (const [label, form] of printedForms(CANARY)) assert.equal(s.scrubString(`a ${form} b`), `a ${SCRUBBED} b`, label);
    for (let before = 0; before < 6; before++) {
      for (let after = 0; after < 4; after++) {
        const blob = Buffer.concat([Buffer.from('P'.repeat(before)), Buffer.from(CANARY), Buffer.from('Q'.repeat(after))]);
        for (const encoding of ['base64', 'base64url'] as const) {
          const text = blob.toString(encoding);
          const core = base64Cores(Buffer.from(CANARY), encoding)[before % 3]!;
          assert.ok(text.includes(core), 'the core is what the blob shows of the canary');
          const out = s.scrubString(text);
          assert.ok(out.includes(SCRUBBED) && !out.includes(core.slice(2, -2)), `${encoding}, ${before} bytes before: ${out}`);
        }
      }
    }
  });
});

describe('a cut at every offset inside the canary', () => {
  const s = scrubberWith(CANARY);
  for (const [label, form] of printedForms(CANARY)) {
    it(`${label}: a tail that starts inside it, and an excerpt that ends inside it`, () => {
      for (let k = 1; k < form.length; k++) {
        const tail = `${form.slice(k)} rest of the line\nnext line`;
        assert.ok(tail.startsWith(form.slice(k)), 'the raw cut text holds the fragment');
        const cleanTail = s.scrubCut(tail, { before: true });
        assert.equal(cleanTail, `${SCRUBBED} rest of the line\nnext line`, `${label}, cut at ${k}`);

        const head = `first line\nsecret: ${form.slice(0, k)}`;
        const cleanHead = s.scrubCut(head, { after: true });
        assert.equal(cleanHead, `first line\nsecret: ${SCRUBBED}`, `${label}, cut at ${k}`);
      }
    });
  }

  it('a window lying wholly inside a long secret is scrubbed whole', () => {
    const long = scrubberWith(`-----BEGIN KEY-----${'k'.repeat(300)}-----END KEY-----`);
    assert.equal(long.scrubCut('k'.repeat(120), { before: true, after: true }), SCRUBBED);
  });

  it('text that was not cut keeps its edges', () => {
    assert.equal(s.scrubCut('t rest', {}), 't rest');
    assert.equal(s.scrubCut('4Rk and more', { before: false }), '4Rk and more');
  });
});

describe('where the runner cuts', () => {
  it("the engine's output tail, cut by the collector at each offset inside the canary, reaches no one", () => {
    processScrubber.add(CANARY);
    for (let k = 1; k < CANARY.length; k++) {
      const collector = createOutputCollector({ onLine: undefined, log: undefined, captureStdout: false });
      // Enough output after the canary that the kept tail begins k characters into it.
      const after = ` tail\n${'x'.repeat(OUTPUT_TAIL - (CANARY.length - k) - ' tail\n'.length - 1)}`;
      collector.push('stderr', `Error: token ${CANARY}${after}\n`);
      const { outputTail } = collector.finish();
      assert.ok(outputTail.startsWith(CANARY.slice(k)), `the collector's raw tail starts inside the canary at ${k}`);
      const shown = engineOutputTail(Object.assign(new Error('engine failed'), { outputTail }), 200)!;
      assert.ok(shown.startsWith(`${SCRUBBED} tail`), `cut at ${k}: ${shown.slice(0, 40)}`);
    }
  });

  it('a length cap (visibleText) and the phone budget (fitBytes) scrub before they cut', () => {
    processScrubber.add(CANARY);
    const prefix = `terraform_data.x["${'a'.repeat(20)}`;
    const address = `${prefix}${CANARY}"]`;
    for (let k = 1; k < CANARY.length; k++) {
      assert.equal(address.slice(0, prefix.length + k).slice(prefix.length), CANARY.slice(0, k), 'a plain cut would show the fragment');
      const shownPart = (text: string) => text.slice(text.indexOf(prefix) + prefix.length).replace(/…$/, '');
      const capped = shownPart(visibleText(address, prefix.length + k + 1));
      assert.ok(capped === '' || !CANARY.startsWith(capped), `visibleText cut at ${k}: ${JSON.stringify(capped)}`);
      const phone = shownPart(fitBytes(`head\n${address}`, 'head\n'.length + prefix.length + k + 3));
      assert.ok(phone === '' || !CANARY.startsWith(phone), `fitBytes cut at ${k}: ${JSON.stringify(phone)}`);
    }
  });
});
