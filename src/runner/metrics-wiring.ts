// The runner's metrics, fed from what already happens: run moves (a subscriber to cp.transitions), audit
// appends (type, code and reason of each record, and how long it took to be on disk), plan step times,
// the apply guard's refusals and the witness. Looked-up figures (queues, scrubber, needs_attention) are read
// at scrape time. Nothing here can change a run: every hook only counts.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { guardRules, refusalClass } from '../metrics/classify.ts';
import type { MetricsConfig } from '../metrics/config.ts';
import { createMetrics, type Metrics } from '../metrics/metrics.ts';
import { serveMetrics, type MetricsServer } from '../metrics/server.ts';
import { isFinal, type RunState } from '../run/run.ts';
import type { RunMoved } from '../run/transitions.ts';
import type { ControlPlane } from './control-plane.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
/** needs_attention is counted over the run index; a scrape reads it at most this often. */
const ATTENTION_EVERY_MS = 30_000;

export interface AuditAppended {
  type: string;
  actor?: { kind: string };
  detail?: Record<string, unknown>;
}

/** The phase a run ended in, from the state it left. */
function phaseOf(from: RunState): 'plan' | 'decision' | 'apply' {
  if (from === 'planning') return 'plan';
  if (from === 'awaiting_approval') return 'decision';
  return 'apply';
}

function secondsSince(iso: string | undefined, now = Date.now()): number | null {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? Math.max(0, (now - t) / 1000) : null;
}

/** What the transitions tell: outcomes, and the times that end with a move. */
export function observeMove(m: Metrics, e: RunMoved): void {
  m.transitions.inc({ from: e.from, to: e.to });
  if (isFinal(e.to)) m.runsFinished.inc({ kind: phaseOf(e.from), state: e.to });
  if (e.from === 'awaiting_approval') {
    const waited = secondsSince(e.run.approval?.requestedAt);
    if (waited !== null) m.decisionWait.observe({ outcome: e.to }, waited);
  }
  if (e.from === 'applying' && e.run.apply) {
    const end = e.run.apply.finishedAt ? Date.parse(e.run.apply.finishedAt) : Date.now();
    const took = secondsSince(e.run.apply.startedAt, end);
    if (took !== null) m.applyDuration.observe({ outcome: e.to }, took);
  }
}

/** What an audit record tells: requests, decisions, refusals, guard rules and the errors of Vault and ntfy. */
export function observeRecord(m: Metrics, input: AuditAppended, seconds: number, ok: boolean): void {
  if (ok) m.auditAppend.observe(seconds);
  m.auditRecords.inc({ type: m.labels.type.value(input.type) });
  const detail = input.detail ?? {};
  switch (input.type) {
    case 'approval.requested':
    case 'approval.confirm-requested':
      m.approvalRequests.inc({ phase: input.type === 'approval.requested' ? 'approve' : 'confirm' });
      break;
    case 'approval.undelivered':
      m.approvalUndelivered.inc();
      break;
    case 'approval.granted':
    case 'approval.denied':
      m.decisions.inc({ decision: input.type === 'approval.granted' ? 'approve' : 'deny', actor: actorKind(input.actor?.kind) });
      break;
    case 'approval.refused':
      m.approvalRefusals.inc({ reason: refusalClass(detail['reason']) });
      break;
    case 'plan.refused':
      for (const rule of guardRules(detail['reasons'])) m.guardRefusals.inc({ rule: m.labels.rule.value(rule) });
      break;
    case 'credentials.revoke_failed':
      m.vaultErrors.inc({ code: 'airlock:vault-revoke-failed' });
      break;
  }
  const code = typeof detail['code'] === 'string' ? detail['code'] : null;
  if (code?.startsWith('airlock:vault-')) m.vaultErrors.inc({ code: m.labels.code.value(code) });
  if (code?.startsWith('airlock:ntfy-')) m.ntfyErrors.inc({ code: m.labels.code.value(code) });
}

function actorKind(kind: string | undefined): string {
  return kind === 'human' || kind === 'agent' || kind === 'runner' ? kind : 'other';
}

/** The metrics of one runner process: hooks to pass to its parts, then `serve(cp)` once the control plane is open. */
export function createRunnerMetrics(config: MetricsConfig, deps: { log: Logger; scrubberSize(): number }) {
  const m = createMetrics({ version: VERSION });
  let server: MetricsServer | null = null;
  let unsubscribe: (() => void) | null = null;
  let attentionReadAt = 0;

  async function refresh(cp: ControlPlane): Promise<void> {
    m.scrubberSize.set(deps.scrubberSize());
    const [counts, oldest] = await Promise.all([cp.queues.counts(), cp.queues.oldestWaiting()]);
    for (const [queue, states] of Object.entries(counts)) for (const [state, n] of Object.entries(states)) m.queueJobs.set({ queue, state }, n);
    for (const [queue, at] of Object.entries(oldest)) m.queueOldest.set({ queue }, at === null ? 0 : Math.max(0, (Date.now() - at) / 1000));
    if (Date.now() - attentionReadAt >= ATTENTION_EVERY_MS) {
      m.needsAttention.set((await cp.runs.listIn(['needs_attention'])).length);
      attentionReadAt = Date.now();
    }
  }

  return {
    metrics: m,
    onStep: (_runId: string, step: string, ms: number) => m.planStep.observe({ step: m.labels.step.value(step) }, ms / 1000),
    planFinished: (state: RunState | undefined, seconds: number) => m.planDuration.observe({ outcome: state === undefined || state === 'planning' ? 'retry' : state }, seconds),
    onRefused(code: string): void {
      m.applyRefusals.inc({ code: m.labels.code.value(code) });
      if (code === 'airlock:apply-unapproved') m.applyUnapproved.inc();
    },
    onAuditAppend: (input: AuditAppended, seconds: number, ok: boolean) => observeRecord(m, input, seconds, ok),
    onWitness(at: Date, verified: boolean | undefined): void {
      m.lastWitness.set(at.getTime() / 1000);
      if (verified !== undefined) m.chainVerified.set(verified ? 1 : 0);
    },
    /** Subscribe to the runs' moves and open the listener. */
    async serve(cp: ControlPlane): Promise<string> {
      unsubscribe = cp.transitions.subscribe((e) => observeMove(m, e));
      server = await serveMetrics({
        listen: config.listen!,
        allowNonLoopback: config.allowNonLoopback,
        registry: m.registry,
        refresh: () => refresh(cp),
        onError: (err) => deps.log.warn({ err }, 'reading a metric failed; serving the others'),
      });
      deps.log.info({ address: server.address }, 'metrics listening');
      return server.address;
    },
    get address(): string | null {
      return server?.address ?? null;
    },
    async stop(): Promise<void> {
      unsubscribe?.();
      await server?.close();
      server = null;
    },
  };
}

export type RunnerMetrics = ReturnType<typeof createRunnerMetrics>;
