// A full or read-only audit disk stops decisions, not safety (issue 15, invariant 6). Every second the
// runner asks its chain whether it can take records (audit-log.ts writableProblem: no failed write, the
// directory writable, at least AUDIT_MIN_FREE_BYTES free). When it cannot, the runner pauses: no poll,
// no new plan, apply or expiry job, no held request sent; decisions are refused without being taken
// (approval-service.ts), and jobs under way wait before their next record (jobs/until-recorded.ts). It
// says so once (`audit.unwritable`, an error line). When space returns it cuts off what a failed write
// left (AuditLog.heal, recorded as `audit.resumed`), says so (`audit.writable`) and resumes.
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.ts';

export interface AuditGuardDeps {
  audit: Pick<AuditLog, 'writableProblem' | 'heal' | 'failure' | 'file'>;
  log: Logger;
  pause(): Promise<void>;
  resume(): Promise<void>;
  intervalMs?: number;
}

export function watchAuditDisk(deps: AuditGuardDeps) {
  let paused = false;
  let since = 0;
  let busy = false;

  async function check(): Promise<void> {
    if (deps.audit.failure) await deps.audit.heal();
    const problem = await deps.audit.writableProblem();
    if (problem && !paused) {
      paused = true;
      since = Date.now();
      deps.log.error({ event: 'audit.unwritable', reason: problem, file: deps.audit.file }, `the audit chain cannot be written (${problem}): polls, plans, decisions and applies are paused, and nothing is approved or applied, until it can. Free space on the audit directory; the runner resumes by itself`);
      await deps.pause();
    } else if (!problem && paused) {
      paused = false;
      deps.log.warn({ event: 'audit.writable', pausedMs: Date.now() - since }, `the audit chain can be written again after ${Math.round((Date.now() - since) / 1000)}s: resuming`);
      await deps.resume();
    }
  }

  const tick = () => {
    if (busy) return;
    busy = true;
    void check()
      .catch((err: unknown) => deps.log.warn({ err }, 'could not check the audit disk'))
      .finally(() => (busy = false));
  };
  const timer = setInterval(tick, deps.intervalMs ?? 1000);
  timer.unref();
  return {
    paused: () => paused,
    check,
    stop: () => clearInterval(timer),
  };
}
