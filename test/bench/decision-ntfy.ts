// The ntfy variant of the decision benchmark: the approver's reply is published on the ntfy double (the
// same request the phone's Approve button sends) → the apply's engine process spawned. The double runs in
// the benchmark's process, the runner in its own, subscribed to the reply topic over HTTP.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { nowMs, waitUntil } from './bench-support.ts';
import type { DecisionDriver } from './decision.ts';
import { startLoop } from './loop.ts';

const TOPICS = { notify: 'airlock-bench-alice-notify', reply: 'airlock-bench-alice-reply' };

interface NtfyAction {
  label: string;
  url?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export const ntfyDriver: DecisionDriver = {
  channel: 'ntfy',
  async unavailable() {
    try {
      await import('../doubles/ntfy-double.ts');
      return null;
    } catch (err) {
      return `the ntfy double cannot be loaded (${String(err)})`;
    }
  },
  async setup(scope) {
    const { startNtfyDouble } = await import('../doubles/ntfy-double.ts');
    const token = () => `tk_${randomBytes(15).toString('hex').slice(0, 29)}`;
    const tokens = { publish: token(), subscribe: token(), alice: token() };
    const double = await startNtfyDouble({
      tokens: { [tokens.publish]: 'runner-pub', [tokens.subscribe]: 'runner-sub', [tokens.alice]: 'alice' },
      acl: [
        { user: 'runner-pub', topic: TOPICS.notify, access: 'write-only' },
        { user: 'runner-sub', topic: TOPICS.reply, access: 'read-only' },
        { user: 'alice', topic: TOPICS.reply, access: 'write-only' },
      ],
      // Deployed as deploy/ntfy/server.yml says: deny-all, the runner host exempt from the request limit.
      defaultAccess: 'deny-all',
      limits: { exemptHosts: ['127.0.0.1'] },
    });
    scope.defer(() => double.close());
    const secrets = await scope.tempDir('ntfy-tokens');
    const file = async (name: string, value: string) => {
      const f = path.join(secrets, `${name}.token`);
      await writeFile(f, value, { mode: 0o600 });
      return f;
    };
    const loop = await startLoop(scope, 'decision-ntfy', {}, {
      approval: {
        channel: 'ntfy',
        ttl: '1h',
        maxPending: 100,
        ntfy: {
          url: double.url,
          publishTokenFile: await file('publish', tokens.publish),
          subscribeTokenFile: await file('subscribe', tokens.subscribe),
          requestBudget: false,
          approvers: [{ name: 'alice', notifyTopic: TOPICS.notify, replyTopic: TOPICS.reply, replyTokenFile: await file('alice', tokens.alice) }],
        },
      },
    });
    return {
      loop,
      async decide(runId) {
        const request = await waitUntil(`the ntfy request for ${runId}`, async () => double.messages(TOPICS.notify).find((m) => m.message.includes(runId)), 30_000, 5);
        const approve = (request.actions as NtfyAction[] | undefined)?.find((a) => a.label === 'Approve');
        if (!approve?.url) throw new Error(`the request for ${runId} has no Approve action`);
        const at = nowMs();
        const answer = await fetch(approve.url, { method: approve.method ?? 'POST', headers: approve.headers ?? {}, body: approve.body ?? '' });
        if (answer.status !== 200) throw new Error(`publishing the reply for ${runId}: ntfy answered ${answer.status}`);
        return at;
      },
    };
  },
};
