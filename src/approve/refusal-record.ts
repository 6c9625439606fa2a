// A decision that did not count still goes on record: who tried, through which channel, and why not.
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.ts';
import { describeRun } from '../run/describe.ts';
import type { Run } from '../run/run.ts';
import type { RefusalInput } from './decision-rules.ts';

export async function recordRefusal(deps: { audit: Pick<AuditLog, 'append'>; log: Logger }, run: Run | null, input: RefusalInput, reason: string, breakGlass: boolean, code?: string): Promise<void> {
  await deps.audit.append({
    type: 'approval.refused',
    ...(run ? describeRun(run) : { run: input.runId ?? null }),
    actor: input.by,
    detail: {
      reason,
      ...(code ? { code } : {}),
      decision: input.decision ?? null,
      channel: input.channel,
      breakGlass,
      ...(input.approver ? { approver: input.approver } : {}),
      ...(input.via ? { via: input.via } : {}),
    },
  });
  deps.log.warn({ runId: run?.id ?? input.runId, reason, channel: input.channel, approver: input.approver }, 'decision refused');
}
