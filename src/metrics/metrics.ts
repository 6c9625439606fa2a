// The runner's Prometheus metrics, in a registry of their own. Every label takes its values from a bounded
// set: run states, step names, error codes and refusal classes, each capped. Never a run id, a sha, a
// resource address, an approver's name or any free text: a label value is a new time series forever.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Values a label may take beyond the known ones before they all become `other`. */
const LABEL_CAP = 32;

/**
 * A label's values: known ones pass; anything else that has the shape passes until `cap` distinct values
 * were seen, and then (or when it has not the shape) it is `other`. So no input can grow the series.
 */
export class BoundedLabel {
  readonly #seen = new Set<string>();
  constructor(
    private readonly shape: RegExp,
    private readonly cap = LABEL_CAP,
  ) {}

  value(raw: string | null | undefined): string {
    if (typeof raw !== 'string' || !this.shape.test(raw)) return 'other';
    if (this.#seen.has(raw)) return raw;
    if (this.#seen.size >= this.cap) return 'other';
    this.#seen.add(raw);
    return raw;
  }
}

// Seconds: a plan step is sub-second to minutes; a decision minutes to hours.
const STEP_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 600];
const JOB_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
const DECISION_BUCKETS = [5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];
const APPEND_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

const VAULT_CODES = ['airlock:vault-unreachable', 'airlock:vault-sealed', 'airlock:vault-permission-denied', 'airlock:vault-bad-login', 'airlock:vault-error'];
const NTFY_CODES = ['airlock:ntfy-unreachable', 'airlock:ntfy-unauthorized', 'airlock:ntfy-forbidden', 'airlock:ntfy-rate-limited', 'airlock:ntfy-error'];

export interface BuildInfo {
  version: string;
}

export function createMetrics(build: BuildInfo, options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const r = [registry];
  const m = {
    registry,
    up: new Gauge({ name: 'airlock_up', help: 'Always 1 while the runner serves metrics', registers: r }),
    buildInfo: new Gauge({ name: 'airlock_build_info', help: 'Always 1; the labels say which Airlock and Node.js', labelNames: ['version', 'nodejs'], registers: r }),
    runsFinished: new Counter({ name: 'airlock_runs_finished_total', help: 'Runs that reached a final state, by the phase they ended in (plan, decision, apply) and the state', labelNames: ['kind', 'state'], registers: r }),
    transitions: new Counter({ name: 'airlock_run_transitions_total', help: 'Run state changes, by from and to state', labelNames: ['from', 'to'], registers: r }),
    planStep: new Histogram({ name: 'airlock_plan_step_duration_seconds', help: 'Time of each plan job step', labelNames: ['step'], buckets: STEP_BUCKETS, registers: r }),
    planDuration: new Histogram({ name: 'airlock_plan_duration_seconds', help: 'Time the plan job spent on a run (sum of its steps), by the state it left planning for', labelNames: ['outcome'], buckets: JOB_BUCKETS, registers: r }),
    applyDuration: new Histogram({ name: 'airlock_apply_duration_seconds', help: 'Time from apply start to its end, by outcome', labelNames: ['outcome'], buckets: JOB_BUCKETS, registers: r }),
    decisionWait: new Histogram({ name: 'airlock_decision_wait_seconds', help: 'Time from the approval request to the decision (approved, denied, expired, superseded)', labelNames: ['outcome'], buckets: DECISION_BUCKETS, registers: r }),
    queueJobs: new Gauge({ name: 'airlock_queue_jobs', help: 'Jobs in the runner\'s queues, by queue and BullMQ state', labelNames: ['queue', 'state'], registers: r }),
    queueOldest: new Gauge({ name: 'airlock_queue_oldest_waiting_seconds', help: 'Age of the oldest job waiting in a queue (0 when none waits)', labelNames: ['queue'], registers: r }),
    approvalRequests: new Counter({ name: 'airlock_approval_requests_total', help: 'Approval requests sent, by phase (approve, confirm)', labelNames: ['phase'], registers: r }),
    approvalUndelivered: new Counter({ name: 'airlock_approval_undelivered_total', help: 'Approval requests that could not be delivered', registers: r }),
    decisions: new Counter({ name: 'airlock_approval_decisions_total', help: 'Decisions taken (taps, CLI decisions, policy), by decision and actor kind', labelNames: ['decision', 'actor'], registers: r }),
    approvalRefusals: new Counter({ name: 'airlock_approval_refusals_total', help: 'Decisions refused, by reason class', labelNames: ['reason'], registers: r }),
    guardRefusals: new Counter({ name: 'airlock_guard_refusals_total', help: 'Guard rule violations that refused a plan, by rule', labelNames: ['rule'], registers: r }),
    applyUnapproved: new Counter({ name: 'airlock_apply_unapproved_total', help: 'Applies the apply guard stopped because no matching approval is on the audit chain (must stay 0)', registers: r }),
    applyRefusals: new Counter({ name: 'airlock_apply_refusals_total', help: 'Approved runs the apply job refused or could not start, by code', labelNames: ['code'], registers: r }),
    vaultErrors: new Counter({ name: 'airlock_vault_errors_total', help: 'Vault/OpenBao errors on record, by code', labelNames: ['code'], registers: r }),
    ntfyErrors: new Counter({ name: 'airlock_ntfy_errors_total', help: 'ntfy errors on record, by code', labelNames: ['code'], registers: r }),
    auditAppend: new Histogram({ name: 'airlock_audit_append_duration_seconds', help: 'Time for an audit record to be on disk (fsynced)', buckets: APPEND_BUCKETS, registers: r }),
    auditRecords: new Counter({ name: 'airlock_audit_records_total', help: 'Audit records appended by the runner, by type', labelNames: ['type'], registers: r }),
    lastWitness: new Gauge({ name: 'airlock_audit_last_witness_timestamp_seconds', help: 'When the audit chain head was last witnessed (Unix time)', registers: r }),
    chainVerified: new Gauge({ name: 'airlock_audit_chains_verified', help: '1 when the audit chains verified at the last interval witness, 0 when one failed (see audit.verify_failed in the log)', registers: r }),
    scrubberSize: new Gauge({ name: 'airlock_scrubber_secrets', help: 'Secret forms the log scrubber holds', registers: r }),
    needsAttention: new Gauge({ name: 'airlock_runs_needs_attention', help: 'Runs in needs_attention (among the newest 1000)', registers: r }),
    labels: {
      code: new BoundedLabel(/^airlock:[a-z0-9-]{1,48}$/),
      rule: new BoundedLabel(/^[a-z0-9-]{1,48}$/),
      step: new BoundedLabel(/^[a-z-]{1,32}$/, 16),
      type: new BoundedLabel(/^[a-z_]{1,32}\.[a-z_-]{1,40}$/, 64),
    },
  };
  // Known codes start at 0, so the first error of a burst already counts in increase().
  for (const code of VAULT_CODES) m.vaultErrors.inc({ code: m.labels.code.value(code) }, 0);
  for (const code of NTFY_CODES) m.ntfyErrors.inc({ code: m.labels.code.value(code) }, 0);
  m.up.set(1);
  m.buildInfo.set({ version: build.version, nodejs: process.versions.node }, 1);
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
