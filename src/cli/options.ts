// Option values of the `airlock` commands, checked while the command line is parsed: kept apart from the
// commands so that parsing loads none of them.
import { InvalidArgumentError } from 'commander';
import { AirlockError } from '../errors.ts';
import { RUN_KINDS, type RunKind } from '../run/run.ts';

/** commander argument parser for a positive integer option. */
export function parsePositiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive whole number, got ${JSON.stringify(value)}`);
  return n;
}

/** `--kind` of `airlock runs`: pr, drift or nothing. */
export function runKindOption(value: string | undefined): RunKind | undefined {
  if (value === undefined) return undefined;
  if ((RUN_KINDS as readonly string[]).includes(value)) return value as RunKind;
  throw new AirlockError('airlock:bad-option', `--kind ${JSON.stringify(value.slice(0, 40))} is not a run kind`, { hint: `Use one of: ${RUN_KINDS.join(', ')}.` });
}
