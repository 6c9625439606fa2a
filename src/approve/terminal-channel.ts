// The terminal channel: the operator on the runner host decides with `airlock approve|deny RUN`.
// It holds no token; host access is the credential, so its decisions are audited as break-glass.
import type { Logger } from 'pino';
import type { Run } from '../run/run.ts';
import type { ApprovalChannel } from './approval-service.ts';

export function createTerminalChannel(log: Logger): ApprovalChannel {
  return {
    name: 'terminal',
    approvers: () => [null],
    async deliver(run: Run, _requests, expiresAt: Date) {
      const confirm = run.plan?.tier === 'confirm' ? ' --confirm' : '';
      log.info(
        { runId: run.id, tier: run.plan?.tier, counts: run.plan?.summary.counts, expiresAt: expiresAt.toISOString() },
        `run ${run.id} awaits a decision: \`airlock show ${run.id}\`, then \`airlock approve ${run.id}${confirm}\` or \`airlock deny ${run.id}\``,
      );
    },
    async announce(run: Run, outcome: string) {
      log.info({ runId: run.id, outcome }, `run ${run.id}: ${outcome}`);
    },
    async notice(title: string, message: string) {
      log.warn({ event: 'channel.notice', title }, message);
    },
  };
}
