// The one place where a run changes state. Every move is a compare-and-set on the stored run, then its
// audit record, then its log line, then an event to whoever subscribed (forge reporting, metrics, drift).
// A subscriber can never change the outcome: it hears of a move after the move is stored and recorded,
// and its failures are logged, not thrown.
import type { Logger } from 'pino';
import { describeRun, RUNNER_ACTOR, type RunDescription } from './describe.ts';
import type { RunStore } from './run-store.ts';
import type { Actor, Run, RunState } from './run.ts';
import type { RestoredRun } from './restore-rules.ts';

/** Where a move's record goes: the audit log, as the transitions need it. */
export interface RunRecordSink {
  append(record: Partial<RunDescription> & { type: string; run: string | null; actor: Actor; detail?: Record<string, unknown> }): Promise<unknown>;
}

export interface MoveSpec {
  /** The states the run may be in for the move to happen, or a test of the stored run. */
  from: readonly RunState[] | ((run: Run) => boolean);
  to: RunState;
  /** Fields set with the move; a function gets the stored run it is applied to. */
  patch?: Partial<Run> | ((run: Run) => Partial<Run>);
  /** The audit record of the move. Written whenever the run moves. */
  record?: {
    type: string;
    actor?: Actor;
    /** The record's detail; a function gets the run the record describes. */
    detail?: Record<string, unknown> | ((run: Run) => Record<string, unknown>);
    /** The run as the record should describe it (the approvers' view of it, say). */
    describe?: (moved: Run) => Run;
    /** Written too when the run had already moved elsewhere, describing the run as the caller knew it. */
    evenIfUnmoved?: boolean;
  };
  log?: { level: 'info' | 'warn' | 'error'; msg: string; fields?: Record<string, unknown>; logger?: Logger };
}

/** What subscribers hear: one stored and recorded move. */
export interface RunMoved {
  run: Run;
  from: RunState;
  to: RunState;
  /** The audit record's type, or `run.<state>` for a move with no record of its own. */
  type: string;
  actor: Actor;
}

export type RunSubscriber = (event: RunMoved) => void | Promise<void>;

export interface RunTransitionsDeps {
  runs: RunStore;
  audit: RunRecordSink;
  log: Logger;
}

export function createRunTransitions(deps: RunTransitionsDeps) {
  const subscribers = new Set<RunSubscriber>();
  const inFlight = new Set<Promise<void>>();

  function emit(event: RunMoved): void {
    for (const subscriber of subscribers) {
      const delivery: Promise<void> = Promise.resolve()
        .then(() => subscriber(event))
        .catch((err: unknown) => deps.log.warn({ err, runId: event.run.id, to: event.to }, 'a run subscriber failed; the run is unaffected'))
        .finally(() => inFlight.delete(delivery));
      inFlight.add(delivery);
    }
  }

  async function undo(moved: Run, before: Run, err: unknown): Promise<void> {
    const undone = await deps.runs.undoMove(moved, before).catch(() => false);
    const fields = { err, runId: moved.id, from: before.state, to: moved.state, undone };
    deps.log.error(fields, undone ? 'a move was undone: its audit record could not be written' : 'a move whose audit record could not be written could not be undone (the run changed meanwhile)');
  }

  return {
    /** Move the run if the spec allows it; null when it is elsewhere (then nothing happens, unless `evenIfUnmoved`). */
    async move(run: Run | string, spec: MoveSpec): Promise<Run | null> {
      const id = typeof run === 'string' ? run : run.id;
      const allowed = typeof spec.from === 'function' ? spec.from : (r: Run) => (spec.from as readonly RunState[]).includes(r.state);
      let from: RunState | null = null;
      let before: Run | null = null;
      const moved = await deps.runs.moveWhere(id, spec.to, (current) => {
        if (!allowed(current)) return null;
        from = current.state;
        before = current;
        return typeof spec.patch === 'function' ? spec.patch(current) : (spec.patch ?? {});
      });
      const described = moved ?? (spec.record?.evenIfUnmoved && typeof run !== 'string' ? run : null);
      const actor = spec.record?.actor ?? RUNNER_ACTOR;
      if (spec.record && described) {
        const subject = spec.record.describe ? spec.record.describe(described) : described;
        const detail = typeof spec.record.detail === 'function' ? spec.record.detail(described) : spec.record.detail;
        try {
          await deps.audit.append({ type: spec.record.type, ...describeRun(subject), actor, ...(detail ? { detail } : {}) });
        } catch (err) {
          // Not on the record, so it did not happen: the run goes back to where it was (a full disk, say).
          if (moved && before) await undo(moved, before, err);
          throw err;
        }
      }
      if (!moved || from === null) return null;
      if (spec.log) {
        const logger = spec.log.logger ?? deps.log.child({ runId: id });
        logger[spec.log.level](spec.log.fields ?? {}, spec.log.msg);
      }
      emit({ run: moved, from, to: spec.to, type: spec.record?.type ?? `run.${spec.to}`, actor });
      return moved;
    },

    /**
     * Store again a run that Redis lost (restore-rules.ts), then its `run.restored` record; subscribers hear
     * it as a move from the state the chain left it in. Null when Redis already has a newer account of it.
     */
    async restore(restored: RestoredRun, detail: Record<string, unknown> = {}): Promise<'created' | 'replaced' | null> {
      const { run, recordedState, last, seenAt } = restored;
      const outcome = await deps.runs.restore(run, seenAt, Date.parse(last.time));
      if (!outcome) return null;
      const note = run.error?.message ?? run.attention?.reason;
      await deps.audit.append({
        type: 'run.restored',
        ...describeRun(run),
        actor: RUNNER_ACTOR,
        detail: { state: run.state, recordedState, lastRecord: { type: last.type, time: last.time, seq: last.seq }, ...(run.state !== recordedState && note ? { note } : {}), ...detail },
      });
      emit({ run, from: recordedState, to: run.state, type: 'run.restored', actor: RUNNER_ACTOR });
      return outcome;
    },

    /** Hear of every move from now on; returns the unsubscribe. */
    subscribe(subscriber: RunSubscriber): () => void {
      subscribers.add(subscriber);
      return () => subscribers.delete(subscriber);
    },

    /** Resolves when every subscriber has handled the moves so far (for shutdown and tests). */
    async idle(): Promise<void> {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}

export type RunTransitions = ReturnType<typeof createRunTransitions>;
