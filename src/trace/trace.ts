// Traces: one OpenTelemetry trace per run. This domain owns the shape of that trace (span names, the
// trace context a run carries, and what a span may say about a run) and the small interface the SDK adapter
// (otel.ts) implements. Nothing here imports OpenTelemetry: a runner without traces never loads it.
//
//   airlock run                 the run, from its sighting to its final state (written when it ends)
//   ├── plan job                one per attempt: checkout, guard, init, plan, show, summarize, tier, request
//   ├── decision wait           from the approval request to the decision (or expiry, or supersede)
//   └── apply job               apply (applying → its end), record (outcome told, job dir removed)
//
// A span says which run (ids, repo, workspace, ref, commit), who proposed it (the agent), how the plan came
// out (tier, counts, sha256) and who decided (the kind of identity, the channel). Never a value, a secret,
// a resource address or an error message: an error is its code.
import { randomBytes } from 'node:crypto';
import { TRACEPARENT_PATTERN } from '../run/run-schema.ts';
import type { Run } from '../run/run.ts';
import type { RunMoved } from '../run/transitions.ts';

export const SPANS = {
  run: 'airlock run',
  planJob: 'plan job',
  applyJob: 'apply job',
  decisionWait: 'decision wait',
  apply: 'apply',
  record: 'record',
} as const;

/** A span's place in a trace: lowercase hex, as in a traceparent. */
export interface SpanRef {
  traceId: string;
  spanId: string;
}

export type SpanAttributes = Record<string, string | number | boolean>;

/** One span being written; `end` sends it. */
export interface OpenSpan {
  readonly ref: SpanRef;
  end(options?: { endMs?: number; attributes?: SpanAttributes; errorType?: string }): void;
}

/** What the SDK adapter offers: spans with explicit parents and times, and a bounded flush at the end. */
export interface SpanSink {
  /** Start a span, child of `parent`, or (with `pin`) the root span that has exactly those ids. */
  start(name: string, options: { parent?: SpanRef; pin?: SpanRef; startMs?: number; attributes?: SpanAttributes }): OpenSpan;
  /** Send what is pending and stop; gives up after `maxWaitMs`. */
  shutdown(maxWaitMs: number): Promise<void>;
}

/** What the jobs, the transitions and the runner see of traces; `untraced` when they are off. */
export interface RunTracing {
  /** Run one job of a run (as the job read it) as a span of its trace; a plan job gives a run without one its trace context. */
  job<T>(kind: 'plan' | 'apply', run: Run, work: () => Promise<T>): Promise<T>;
  /** A step of the run's job started; the function returned hears its end, with the run as it then stands. */
  step(runId: string, name: string): ((run: Run, error?: unknown) => void) | undefined;
  /** `work` as the step `name` of the run's job (the apply job's `record`). */
  around<T>(runId: string, name: string, work: () => Promise<T>): Promise<T>;
  /** A transitions subscriber: the decision wait, the apply, and the run's own span when it ends. */
  onMove(event: RunMoved): void;
  /** Send the spans still pending (bounded), then stop. */
  shutdown(): Promise<void>;
}

export const untraced: RunTracing = {
  job: (_kind, _run, work) => work(),
  step: () => undefined,
  around: (_runId, _name, work) => work(),
  onMove: () => undefined,
  shutdown: async () => undefined,
};

/** The trace context a run carries, or null when it has none (or not one of ours, or not sampled). */
export function parseTraceparent(value: unknown): SpanRef | null {
  if (typeof value !== 'string' || !TRACEPARENT_PATTERN.test(value)) return null;
  const [, traceId, spanId, flags] = value.split('-') as [string, string, string, string];
  return (parseInt(flags, 16) & 1) === 1 ? { traceId, spanId } : null;
}

export function formatTraceparent(ref: SpanRef): string {
  return `00-${ref.traceId}-${ref.spanId}-01`;
}

/** A new, sampled trace context: a random trace id, and the id the run's own span will have. */
export function newTraceparent(random: (n: number) => Buffer = randomBytes): string {
  const nonZero = (n: number) => {
    for (;;) {
      const hex = random(n).toString('hex');
      if (!/^0+$/.test(hex)) return hex;
    }
  };
  return formatTraceparent({ traceId: nonZero(16), spanId: nonZero(8) });
}

// The plan summary's counts that a span may carry, by name: a count Redis adds is not read.
const COUNTS = ['create', 'update', 'delete', 'replace', 'forget', 'read', 'noop', 'import', 'move', 'output', 'imported', 'moved'] as const;

/** What a span may say about a run: identifiers, the agent, the plan's outcome and the decision. */
export function runAttributes(run: Run): SpanAttributes {
  const a: SpanAttributes = {
    'airlock.run.id': run.id,
    'airlock.run.kind': run.kind ?? 'pr',
    'airlock.workspace': run.workspace,
    'vcs.repository.name': run.repo,
    'vcs.ref.head.name': run.ref,
    'vcs.ref.head.revision': run.sha,
  };
  if (run.pr !== null) a['vcs.change.id'] = String(run.pr);
  if (run.attempt !== undefined) a['airlock.run.attempt'] = run.attempt;
  return { ...a, ...agentAttributes(run), ...planAttributes(run), ...decisionAttributes(run) };
}

/** The agent that proposed the change (OpenTelemetry GenAI: `gen_ai.agent.name`), from the commit's attribution. */
export function agentAttributes(run: Run): SpanAttributes {
  return typeof run.agent === 'string' ? { 'gen_ai.agent.name': run.agent } : {};
}

export function planAttributes(run: Run): SpanAttributes {
  if (!run.plan) return {};
  const a: SpanAttributes = { 'airlock.plan.sha256': run.plan.sha256, 'airlock.plan.tier': run.plan.tier };
  const counts = run.plan.summary.counts as unknown as Record<string, unknown>;
  for (const name of COUNTS) if (typeof counts[name] === 'number') a[`airlock.plan.changes.${name}`] = counts[name];
  return a;
}

/** Who decided, as a kind of identity (human, runner for the policy, agent), never the identity itself. */
export function decisionAttributes(run: Run): SpanAttributes {
  if (!run.decision) return {};
  return {
    'airlock.decision': run.decision.decision,
    'airlock.approver.kind': run.decision.by.kind,
    'airlock.decision.channel': run.decision.channel,
    'airlock.decision.break_glass': run.decision.breakGlass,
  };
}

/** What a plan step's span says when it ends: what that step found out. */
export function stepAttributes(step: string, run: Run): SpanAttributes {
  if (step === 'checkout') return { ...agentAttributes(run), 'airlock.agent.matched': typeof run.agent === 'string' };
  if (step === 'tier') return planAttributes(run);
  return {};
}

const ERROR_TYPE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** A stored error code as `error.type`: it came from Redis, so anything but a code's shape is `_OTHER`. */
export function codeOf(code: string): string {
  return ERROR_TYPE.test(code) ? code : '_OTHER';
}

/** `error.type`: a coded error's code, else the error's class name; never its message. */
export function errorTypeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^airlock:[a-z0-9-]+$/.test(code)) return code;
  const name = err instanceof Error ? err.constructor.name : '';
  return ERROR_TYPE.test(name) ? name : '_OTHER';
}
