// A full or read-only audit disk stops decisions, not safety (issue 15, invariant 6). A step whose record
// cannot be written did not happen (the run's transitions undo the move), so a job does not end half
// recorded: it waits until the chain can take records again, then does the step again.
import type { Logger } from 'pino';
import { hasCode } from '../errors.ts';

/** Whether `err` only says that the audit chain could not take a record. */
export function isUnrecorded(err: unknown): boolean {
  return hasCode(err, 'airlock:audit-write-failed') || hasCode(err, 'airlock:audit-unwritable');
}

export interface RecordGate {
  /** Why the chain cannot take a record now, or null (AuditLog.writableProblem). */
  writableProblem(): Promise<string | null>;
  log: Logger;
  everyMs?: number;
}

/** Resolve once the chain can take a record; says once that it waits. */
export async function whenWritable(gate: RecordGate, what: string): Promise<void> {
  let said = false;
  for (let problem = await gate.writableProblem(); problem; problem = await gate.writableProblem()) {
    if (!said) gate.log.warn({ event: 'audit.wait', what, reason: problem }, `${what} waits until the audit chain can be written (${problem})`);
    said = true;
    await new Promise((r) => setTimeout(r, gate.everyMs ?? 1000));
  }
}

/** Run `step`; when the audit chain refused its record, wait until it can take records and run it again. */
export async function untilRecorded<T>(gate: RecordGate, what: string, step: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await step();
    } catch (err) {
      if (!isUnrecorded(err)) throw err;
      await whenWritable(gate, what);
    }
  }
}
