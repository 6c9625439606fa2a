// A whole runner whose approval channel is ntfy (the double, or a real server), plus the phone's side:
// wait for a notification, tap one of its buttons exactly as published.
import type { TestContext } from 'node:test';
import type { NtfyEvent } from '../../src/ntfy/client.ts';
import { readAuditRecords } from '../../src/audit/read-audit.ts';
import type { AuditRecord } from '../../src/audit/audit.ts';
import { setupLoop, type Loop } from '../e2e/loop-fixture.ts';
import { waitFor, type TestConfigInput } from '../support/harness.ts';
import { button, ntfyUnderTest, type NtfyUnderTest } from './ntfy-fixture.ts';

export interface NtfyLoop {
  loop: Loop;
  ntfy: NtfyUnderTest;
  /** The request (or confirmation) for `runId` on an approver's phone. */
  request(runId: string, approver: 'alice' | 'bob', phase?: 'approve' | 'confirm'): Promise<NtfyEvent>;
  /** Tap a button of a notification; resolves with the ntfy server's answer to the phone. */
  tap(message: NtfyEvent, label: string | RegExp): Promise<Response>;
  /** Follow-up titles on an approver's phone about a run, oldest first. */
  followUps(runId: string, approver: 'alice' | 'bob'): Promise<string[]>;
  audit(runId?: string): Promise<AuditRecord[]>;
  /** Wait until `n` replies from the reply topics have been handled (counted or refused). */
  handled(n: number): Promise<void>;
}

export async function setupNtfyLoop(t: TestContext, opts: { approval?: Record<string, unknown>; keepaliveMs?: number; extra?: Record<string, unknown>; workspaces?: TestConfigInput['workspaces'] } = {}): Promise<NtfyLoop> {
  const ntfy = await ntfyUnderTest(t, opts.keepaliveMs === undefined ? {} : { keepaliveMs: opts.keepaliveMs });
  const loop = await setupLoop(t, { extra: { ...opts.extra, approval: ntfy.approvalSection(opts.approval) }, ...(opts.workspaces ? { workspaces: opts.workspaces } : {}) });
  ntfy.beforeClose(() => loop.runner.stop());
  await loop.runner.replies!.waitConnected();
  const self: NtfyLoop = {
    loop,
    ntfy,
    async request(runId, approver, phase = 'approve') {
      return waitFor(`the ${phase} request for ${runId} on ${approver}'s phone`, async () =>
        (await ntfy.notifications(approver)).find((m) => (m.actions?.length ?? 0) > 0 && String(m.message).includes(`run ${runId}`) && (phase === 'confirm') === String(m.title).startsWith('Confirm')),
      );
    },
    async tap(message, label) {
      return ntfy.tap(button(message, label));
    },
    async followUps(runId, approver) {
      return (await ntfy.notifications(approver)).filter((m) => !m.actions?.length && String(m.message).includes(`Run ${runId}`)).map((m) => String(m.title));
    },
    async audit(runId) {
      return readAuditRecords(loop.runner.cp.paths.auditDir, runId === undefined ? {} : { run: runId });
    },
    async handled(n) {
      await waitFor(`${n} replies handled`, async () => {
        const records = await readAuditRecords(loop.runner.cp.paths.auditDir);
        const replies = records.filter((r) => (r.detail?.['via'] as { topic?: string } | undefined)?.topic !== undefined);
        return replies.length >= n;
      });
    },
  };
  return self;
}
