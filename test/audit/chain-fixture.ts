// Chain files for audit tests: written by the real AuditLog, then damaged on purpose.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RUNNER_ACTOR, type AuditInput } from '../../src/audit/audit.ts';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { Scrubber } from '../../src/log/scrub.ts';

/** A record about a run, shaped like the runner's. */
export function sampleInput(i: number, over: Partial<AuditInput> = {}): AuditInput {
  return {
    type: 'plan.started',
    run: `r${String(i).padStart(15, '0')}`,
    actor: RUNNER_ACTOR,
    subject: { repo: 'infra', pr: 7, ref: 'refs/pull/7/head', sha: 'a'.repeat(40), workspace: 'default' },
    detail: { attempt: 1, note: `record number ${i}` },
    ...over,
  };
}

/** Write `n` records to a fresh chain `<dir>/<name>.jsonl` and return the file and its lines. */
export async function writeChain(dir: string, n: number, name = 'test'): Promise<{ file: string; lines: string[] }> {
  const file = path.join(dir, `${name}.jsonl`);
  const log = await AuditLog.open(file, { scrubber: new Scrubber() });
  for (let i = 1; i <= n; i++) await log.append(sampleInput(i));
  await log.close();
  return { file, lines: await readLines(file) };
}

export async function readLines(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8')).split('\n').filter((l) => l.length > 0);
}

export async function writeLines(file: string, lines: string[]): Promise<void> {
  await writeFile(file, lines.map((l) => `${l}\n`).join(''));
}
