// The humans of a world: every run that waits for a decision gets one, drawn from the world and the run
// (approve, deny, or leave it waiting). In a terminal world it is given through the real CLI code
// (`airlock approve|deny --yes --confirm`) with the config of the runner that planned it; in an ntfy world
// by tapping the request's button on the phone (the ntfy double), sometimes twice (a duplicate reply),
// late, or racing another approver's opposite tap. A decision refused because the runner could not take
// it (a full audit disk) is tried again, as a person would. Acknowledged decisions (CLI exit 0, or the
// runner's follow-up on the phone) are remembered for the checks.
import { Redis } from 'ioredis';
import { RunStore } from '../../src/run/run-store.ts';
import type { Run } from '../../src/run/run.ts';
import type { NtfyAction, NtfyEvent } from '../../src/ntfy/client.ts';
import { redisOptions } from '../../src/queue/redis-connection.ts';
import { keyed } from './rng.ts';
import { bundledMain } from './runner-bundle.ts';

export type TapStyle = 'tap' | 'duplicate' | 'late' | 'race';
export type CliStyle = 'cli' | 'cli-late';

export interface Decision {
  runId: string;
  sha: string;
  planSha256: string;
  decision: 'approve' | 'deny' | 'leave';
  style: CliStyle | TapStyle;
  /** 0: acknowledged (CLI exit 0, or the runner's follow-up on the phone); null: not (yet); -2: the CLI did not answer. */
  code: number | null;
  at: number;
  attempts: number;
}

/** The approvers' phones in an ntfy world. */
export interface Phone {
  notifications(approver: 'alice' | 'bob'): Promise<NtfyEvent[]>;
  tap(action: NtfyAction): Promise<Response>;
}

const silent = { out: () => undefined, err: () => undefined, isTTY: false };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ACK_WAIT_MS = 20_000;

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)))]).finally(() => clearTimeout(timer));
}

export class Driver {
  readonly redis: Redis;
  readonly runs: RunStore;
  readonly decisions = new Map<string, Decision>();
  /** Tap styles used, for the table (ntfy worlds). */
  readonly styles: string[] = [];
  inFlight = 0;
  #timer: NodeJS.Timeout | null = null;
  #cli = new Map<string, Promise<unknown>>();
  #busy = false;
  /** Called as a decision is about to be given (the `decision` phase of a fault). */
  onDeciding: ((run: Run) => void) | null = null;
  /** Negative controls only (breaks.ts): true takes the run from the driver, which then leaves it waiting. */
  intercept: ((run: Run) => boolean) | null = null;
  approveAll = false;
  /** Short approval TTL worlds: some CLI decisions come 5-30 s late, past the request's expiry. */
  lateCli = false;

  constructor(
    readonly key: number,
    url: string,
    prefix: string,
    private readonly configFor: (runnerId: string) => string | null,
    private readonly redisUp: () => boolean,
    private readonly phone: Phone | null = null,
  ) {
    this.redis = new Redis(...redisOptions(url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 }));
    this.redis.on('error', () => undefined);
    this.runs = new RunStore(this.redis, prefix);
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.tick(), 200);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    while (this.#busy || this.inFlight > 0) await new Promise((r) => setTimeout(r, 50));
    this.redis.disconnect();
  }

  /** Runs in every state, or null when Redis does not answer in time. */
  async snapshot(): Promise<Run[] | null> {
    if (!this.redisUp()) return null;
    const got = await withTimeout(this.runs.list(10_000).catch(() => 'timeout' as const), 5000);
    return got === 'timeout' ? null : got;
  }

  /** Whether the driver has nothing left to decide, or to wait for, among `runs`. */
  done(runs: Run[]): boolean {
    if (this.inFlight > 0) return false;
    return runs.every((r) => {
      if (r.state !== 'awaiting_approval') return true;
      const d = this.decisions.get(key(r));
      if (!d) return false;
      if (d.decision === 'leave' || d.code === 0) return true;
      // A tap not yet acknowledged, or a refused decision to try again: still the driver's to finish.
      return d.style === 'cli' ? d.attempts >= 3 : Date.now() - d.at > ACK_WAIT_MS;
    });
  }

  private async tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const runs = await this.snapshot();
      if (this.phone && runs) await this.acknowledge(runs);
      for (const run of runs ?? []) {
        if (run.state !== 'awaiting_approval' || !run.plan || run.approval?.held) continue;
        const d = this.decisions.get(key(run));
        if (!d) await this.decide(run);
        else if (!this.phone && d.code !== 0 && d.code !== null && d.decision !== 'leave' && d.attempts < 3 && Date.now() - d.at > 2000) await this.give(run, d);
        else if (this.phone && run.approval?.phase === 'confirm' && d.decision === 'approve' && d.code !== 0) await this.confirm(run, d);
      }
    } finally {
      this.#busy = false;
    }
  }

  private async decide(run: Run): Promise<void> {
    const x = keyed(this.key, `decide:${run.id}:${run.plan!.sha256}`);
    // With a negative control armed, every run not taken by it is approved: the breakage needs applies.
    const decision = this.intercept?.(run) ? 'leave' : this.approveAll || x < 0.7 ? 'approve' : x < 0.85 ? 'deny' : 'leave';
    const s = keyed(this.key, `style:${run.id}`);
    const style: Decision['style'] = !this.phone ? (this.lateCli && !this.approveAll && s < 0.3 ? 'cli-late' : 'cli') : this.approveAll || s < 0.55 ? 'tap' : s < 0.7 ? 'duplicate' : s < 0.85 ? 'late' : 'race';
    const d: Decision = { runId: run.id, sha: run.sha, planSha256: run.plan!.sha256, decision, style, code: null, at: Date.now(), attempts: 0 };
    if (decision === 'leave') {
      this.decisions.set(key(run), d);
      return;
    }
    if (!this.phone && !this.configFor(run.plan!.runnerId ?? '')) return; // try again at the next tick
    // The run shows as waiting a moment before its request reaches the phone: tap once it is there.
    if (this.phone && !(await this.requestOn(run.id, 'alice', 'approve'))) return;
    this.decisions.set(key(run), d);
    await this.give(run, d);
  }

  private async give(run: Run, d: Decision): Promise<void> {
    if (!this.redisUp()) return;
    d.attempts++;
    d.at = Date.now();
    if (!this.phone) {
      this.inFlight++;
      void (async () => {
        try {
          if (d.style === 'cli-late' && d.attempts === 1) await sleep(5000 + Math.floor(keyed(this.key, `late:${run.id}`) * 25_000));
          if (run.approval && Date.now() > Date.parse(run.approval.expiresAt)) this.styles.push('decision-after-expiry');
          this.onDeciding?.(run);
          const file = this.configFor(run.plan!.runnerId ?? '')!;
          const main = await bundledMain();
          // One CLI call per runner at a time: in one process they would queue on the CLI chain's lock.
          const previous = this.#cli.get(file) ?? Promise.resolve();
          const call = previous.then(() => withTimeout(main(['node', 'airlock', d.decision, run.id, '--yes', '--confirm', '--config', file], silent), 120_000));
          this.#cli.set(file, call.catch(() => undefined));
          // The CLI's own waits are bounded (Redis, the chain's lock); on a loaded host it can still take long.
          const code = await call;
          // A CLI call that did not answer in time is a decision not acknowledged: tried again, like a refusal.
          d.code = code === 'timeout' ? -2 : code;
          d.at = Date.now();
        } finally {
          this.inFlight--;
        }
      })();
      return;
    }
    this.onDeciding?.(run);
    this.styles.push(`ntfy-${d.style}`);
    const label = d.decision === 'approve' ? 'Approve' : 'Deny';
    const delayMs = d.style === 'late' ? 1000 + Math.floor(keyed(this.key, `late:${run.id}`) * 4000) : 0;
    this.inFlight++;
    void (async () => {
      try {
        if (delayMs) await sleep(delayMs);
        if (run.approval && Date.now() > Date.parse(run.approval.expiresAt)) this.styles.push('decision-after-expiry');
        const taps = [this.tapOn(run.id, 'alice', label, 'approve')];
        if (d.style === 'duplicate') taps.push(this.tapOn(run.id, 'alice', label, 'approve'));
        if (d.style === 'race') taps.push(this.tapOn(run.id, 'bob', label === 'Approve' ? 'Deny' : 'Approve', 'approve'));
        await Promise.all(taps);
        d.at = Date.now();
      } finally {
        this.inFlight--;
      }
    })();
  }

  /** The second tap a destructive plan needs, on the confirmation request. */
  private async confirm(run: Run, d: Decision): Promise<void> {
    if (d.attempts > 3) return;
    d.attempts++;
    await this.tapOn(run.id, 'alice', /Confirm/, 'confirm');
  }

  /** The newest request (or confirmation) for `runId` on an approver's phone. */
  private async requestOn(runId: string, approver: 'alice' | 'bob', phase: 'approve' | 'confirm'): Promise<NtfyEvent | undefined> {
    const messages = await this.phone!.notifications(approver).catch(() => [] as NtfyEvent[]);
    return messages.filter((m) => (m.actions?.length ?? 0) > 0 && String(m.message).includes(`run ${runId}`) && (phase === 'confirm') === String(m.title).startsWith('Confirm')).at(-1);
  }

  private async tapOn(runId: string, approver: 'alice' | 'bob', label: string | RegExp, phase: 'approve' | 'confirm'): Promise<void> {
    const request = await this.requestOn(runId, approver, phase);
    const button = request?.actions?.find((a) => (typeof label === 'string' ? a.label === label : label.test(a.label)));
    if (button) await this.phone!.tap(button).catch(() => undefined);
  }

  /** A decision is acknowledged when the runner's follow-up for it reaches the phone. */
  private async acknowledge(runs: Run[]): Promise<void> {
    const waiting = [...this.decisions.values()].filter((d) => d.code === null && d.decision !== 'leave');
    if (waiting.length === 0) return;
    const messages = await this.phone!.notifications('alice').catch(() => [] as NtfyEvent[]);
    for (const d of waiting) {
      const followUp = messages.find((m) => !m.actions?.length && String(m.message).includes(`Run ${d.runId}`) && /^(Approved|Denied)/.test(String(m.title)));
      if (!followUp) continue;
      d.code = 0;
      // A race: what counted is what the runner says, not what this approver tapped.
      const said = String(followUp.title).startsWith('Approved') ? 'approve' : 'deny';
      const run = runs.find((r) => r.id === d.runId);
      if (said !== d.decision && run?.decision?.decision === said) d.decision = said;
    }
  }
}

function key(run: Run): string {
  return `${run.id}:${run.plan?.sha256 ?? ''}`;
}
