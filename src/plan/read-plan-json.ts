// Stream a `terraform|tofu show -json` file into a plan summary with bounded memory.
//
// Why a purpose-built scanner: plan JSON reaches hundreds of MB to 1 GB, almost all of it attribute values
// (before/after, planned_values, prior_state, configuration) that the summary must never hold. The scanner
// walks the bytes once, tracks nesting and strings, checks the JSON grammar, and materialises only the few
// values it needs: the top-level `format_version`, `terraform_version` and `errored`, each
// `resource_changes[]` element's `address`, `previous_address`, `mode` and `change.actions` (and whether
// `change.importing` is set, never its value), each `resource_drift[]` element's `address`, `mode` and
// `change.actions` (the same entry shape; nothing is picked from it), and each `output_changes` member's name and `actions`. Strings are skipped with
// Buffer#indexOf, so value-heavy files go at memchr speed; nothing else from a value is ever decoded.
//
// The measurements behind this choice are in test/bench/BENCHMARKS.md ("Reading plan JSON").
import { createReadStream } from 'node:fs';
import { PlanJsonError } from './errors.ts';
import { createSummaryBuilder, describeValue, type PlanSummary, type RawResourceChange } from './summary.ts';
import { PlanJsonScanner } from './plan-json-scanner.ts';
import type { ValuePicker } from './plan-json-picker.ts';

export { PlanJsonScanner, type PlanMeta } from './plan-json-scanner.ts';
export { PICK_TOO_LARGE, type PickedAfter, type ValuePicker } from './plan-json-picker.ts';

const CHUNK_BYTES = 1 << 20;

export interface SummarizeOptions {
  maxListed?: number;
  picker?: ValuePicker;
  /** Called with every validated entry (address, mode, type, change.actions and `picked`). */
  onEntry?: (entry: RawResourceChange, index: number) => void;
  /** Called with every `output_changes` member: its name and `actions`. */
  onOutput?: (name: string, actions: unknown) => void;
}

/** Summarise a `show -json` file without ever holding the whole document or any attribute value. */
export async function summarizePlanFile(path: string, opts: SummarizeOptions = {}): Promise<PlanSummary> {
  const builder = createSummaryBuilder(opts);
  const onEntry = opts.onEntry;
  const scanner = new PlanJsonScanner(
    onEntry === undefined
      ? (entry, index) => builder.add(entry, index)
      : (entry, index) => {
          builder.add(entry, index);
          onEntry(entry, index);
        },
    {
      picker: opts.picker,
      onDrift: (entry, index) => builder.addDrift(entry, index),
      onOutput: (name, actions) => {
        builder.addOutput(name, actions);
        opts.onOutput?.(name, actions);
      },
    },
  );
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: CHUNK_BYTES })) {
      scanner.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof PlanJsonError) throw err;
    throw new PlanJsonError(`cannot read the plan JSON at ${describeValue(path)}: ${(err as Error).message}`, {
      cause: err,
      hint: 'Check that `show -json` wrote the file and that the runner can read it.',
    });
  }
  return builder.finish(scanner.end());
}
