// When each span of a run's trace starts and ends, fed from two seams: the jobs (each job, and the plan
// job's steps through its step loop) and the run's transitions (the decision wait, the apply, and the run's
// own span once it is final). A run spans jobs and processes; its `traceparent` (set once, by the first plan
// job) is how a later job, another runner process or the CLI joins the same trace. Tracing never changes a
// run's outcome: a failure here is logged, and the work goes on untraced.
import type { Logger } from 'pino';
import type { RunStore } from '../run/run-store.ts';
import { isFinal, type Run } from '../run/run.ts';
import type { RunMoved } from '../run/transitions.ts';
import { codeOf, decisionAttributes, errorTypeOf, newTraceparent, parseTraceparent, runAttributes, SPANS, stepAttributes, type OpenSpan, type RunTracing, type SpanRef, type SpanSink } from './trace.ts';

export interface RunTracerDeps {
  runs: Pick<RunStore, 'find' | 'update'>;
  log: Logger;
  /** How long `shutdown` may wait for the last spans to be sent. */
  shutdownWaitMs?: number;
}

interface ActiveJob {
  span: OpenSpan;
  root: SpanRef;
  /** The run reached its final state during this job: its own span is written when the job's ends. */
  ended: Run | null;
}

const msOf = (iso: string | undefined): number | undefined => {
  const ms = iso === undefined ? NaN : Date.parse(iso);
  return Number.isFinite(ms) ? ms : undefined;
};

/** The run tracing of one process, writing to `sink` (otel.ts). */
export function createRunTracer(sink: SpanSink, deps: RunTracerDeps): RunTracing {
  const jobs = new Map<string, ActiveJob>();

  /**
   * The run's trace context. Runs are born with one while traces are on (RunStore); a plan job gives one to a
   * run from before that, once, so every later job and process joins the same trace.
   */
  async function rootOf(kind: 'plan' | 'apply', run: Run): Promise<SpanRef | null> {
    if (run.traceparent !== undefined || kind !== 'plan') return parseTraceparent(run.traceparent);
    const fresh = newTraceparent();
    const stored = (await deps.runs.update(run.id, (r) => (r.traceparent === undefined ? { ...r, traceparent: fresh } : null))) ?? (await deps.runs.find(run.id));
    return parseTraceparent(stored?.traceparent);
  }

  function parentOf(runId: string, root: SpanRef): SpanRef {
    return jobs.get(runId)?.span.ref ?? root;
  }

  /** Spans whose times are on the run record: they are written when they end, whichever process sees it. */
  function onMove(e: RunMoved): void {
    const root = parseTraceparent(e.run.traceparent);
    if (!root) return;
    if (e.from === 'awaiting_approval') writeDecisionWait(sink, e, root);
    if (e.from === 'applying') writeApply(sink, e, parentOf(e.run.id, root));
    if (isFinal(e.to)) {
      const job = jobs.get(e.run.id);
      if (job) job.ended = e.run;
      else writeRun(sink, e.run, root);
    }
  }

  return {
    async job(kind, run, work) {
      const root = await rootOf(kind, run).catch((err: unknown) => {
        deps.log.warn({ err, runId: run.id }, 'could not set the run\'s trace context; this job is not traced');
        return null;
      });
      if (!root) return work();
      const active: ActiveJob = { span: sink.start(kind === 'plan' ? SPANS.planJob : SPANS.applyJob, { parent: root, attributes: runAttributes(run) }), root, ended: null };
      jobs.set(run.id, active);
      try {
        const result = await work();
        active.span.end();
        return result;
      } catch (err) {
        active.span.end({ errorType: errorTypeOf(err) });
        throw err;
      } finally {
        jobs.delete(run.id);
        if (active.ended) writeRun(sink, active.ended, active.root);
      }
    },

    step(runId, name) {
      const job = jobs.get(runId);
      if (!job) return undefined;
      const span = sink.start(name, { parent: job.span.ref });
      return (run, error) => span.end({ attributes: stepAttributes(name, run), ...(error === undefined ? {} : { errorType: errorTypeOf(error) }) });
    },

    async around(runId, name, work) {
      const job = jobs.get(runId);
      if (!job) return work();
      const span = sink.start(name, { parent: job.span.ref });
      try {
        const result = await work();
        span.end();
        return result;
      } catch (err) {
        span.end({ errorType: errorTypeOf(err) });
        throw err;
      }
    },

    onMove,

    shutdown: () => sink.shutdown(deps.shutdownWaitMs ?? 5_000),
  };
}

/** From the approval request to the decision (its own time), or to now for an expiry or a supersede. */
function writeDecisionWait(sink: SpanSink, e: RunMoved, root: SpanRef): void {
  const decided = e.run.decision && (e.to === 'approved' || e.to === 'denied') ? msOf(e.run.decision.at) : undefined;
  const attributes = { 'airlock.run.id': e.run.id, 'airlock.decision.outcome': e.to, ...(e.run.approval ? { 'airlock.plan.tier': e.run.approval.tier } : {}), ...decisionAttributes(e.run) };
  sink.start(SPANS.decisionWait, { parent: root, startMs: msOf(e.run.approval?.requestedAt), attributes }).end(decided === undefined ? {} : { endMs: decided });
}

/** From the move to applying to the apply's end, as the run record has them. */
function writeApply(sink: SpanSink, e: RunMoved, parent: SpanRef): void {
  if (!e.run.apply) return;
  const finished = msOf(e.run.apply.finishedAt);
  const span = sink.start(SPANS.apply, { parent, startMs: msOf(e.run.apply.startedAt), attributes: { 'airlock.run.id': e.run.id, 'airlock.run.state': e.to } });
  span.end({ ...(finished === undefined ? {} : { endMs: finished }), ...(e.run.error ? { errorType: codeOf(e.run.error.code) } : {}) });
}

/** The run's own span, with the ids its traceparent promised, from its sighting to now. */
function writeRun(sink: SpanSink, run: Run, root: SpanRef): void {
  const span = sink.start(SPANS.run, { pin: root, startMs: msOf(run.createdAt), attributes: { ...runAttributes(run), 'airlock.run.state': run.state } });
  span.end(run.error ? { errorType: codeOf(run.error.code) } : {});
}
