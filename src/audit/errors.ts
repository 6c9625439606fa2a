// The audit domain's errors: each with a stable code and what the operator should do next.
import { AirlockError } from '../errors.ts';

export class AuditLockedError extends AirlockError {
  constructor(file: string, holder: string) {
    super('airlock:audit-locked', `${file} is being written by another process (${holder})`, {
      hint: 'Two runners on one host need different `runner.id` values; if no other runner is running, delete the .lock file.',
    });
  }
}

export class AuditCorruptError extends AirlockError {
  constructor(file: string, why: string) {
    super('airlock:audit-corrupt', `the last record of ${file} cannot be read (${why})`, {
      hint: `Run \`airlock audit verify --file ${file}\` to find the damage; do not edit the file by hand. To start a new chain, move the file aside (keep it as evidence).`,
    });
  }
}

/** A write or fsync failed: nothing after it is acknowledged, and the log refuses further appends. */
export class AuditWriteFailedError extends AirlockError {
  constructor(file: string, cause: unknown) {
    super('airlock:audit-write-failed', `writing the audit chain ${file} failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
      hint: 'Check the disk (space, errors), then restart the runner: start-up moves a partial last line aside and continues the chain.',
    });
  }
}

export class AuditClosedError extends AirlockError {
  constructor(file: string) {
    super('airlock:audit-closed', `audit log ${file} is closed`);
  }
}

/** The audit chain cannot take a record now (a failed write, a full or read-only disk): nothing is decided or applied. */
export class AuditUnwritableError extends AirlockError {
  constructor(file: string, problem: string) {
    super('airlock:audit-unwritable', `the audit chain ${file} cannot be written now (${problem}); nothing was decided, approved or applied`, {
      hint: 'Free space on the audit directory (`airlock doctor` checks it). The request stays open: decide again once the chain can be written; the runner resumes by itself.',
    });
  }
}
