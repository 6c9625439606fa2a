// One remote, one runner process on the terraform double, and the bench's own view of Redis: the setup the
// overhead, detection and decision benchmarks share.
import path from 'node:path';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { RunStore } from '../../src/run/run-store.ts';
import { deriveRunId, type Run } from '../../src/run/run.ts';
import { decideRun } from '../../src/cli/run-commands.ts';
import type { LoadedConfig } from '../../src/config/load.ts';
import { connectRedis } from '../../src/queue/queues.ts';
import { openControlPlane, type ControlPlane } from '../../src/runner/control-plane.ts';
import { makeRemote, pushRawTree, setRef, type Remote } from '../git-fixtures.ts';
import { doubleEngine, readDoubleLog, waitUntil, nowMs, writeBenchConfig, type DoubleInvocation, type Scope } from './bench-support.ts';
import { startProbe, type Probe } from './probe.ts';

/** A two-resource config whose inputs differ per `n`, so every commit has changes to plan. */
export function terraformFor(n: number | string): string {
  return `resource "terraform_data" "a" {\n  input = "a-${n}"\n}\n\nresource "terraform_data" "b" {\n  input = "b-${n}"\n}\n`;
}

export interface Loop {
  remote: Remote;
  loaded: LoadedConfig;
  probe: Probe;
  runs: RunStore;
  prefix: string;
  invocationLog: string;
  /** Make a commit for PR `pr` (not yet visible: no ref points at it). */
  commit(pr: number, content: string): Promise<string>;
  /** Point `refs/pull/<pr>/head` at `sha`; returns the time the ref had moved. */
  moveRef(pr: number, sha: string): Promise<number>;
  runId(sha: string): string;
  waitForState(runId: string, states: Run['state'][], timeoutMs?: number): Promise<Run>;
  /** The double's first invocation of `command` inside the run's job directory. */
  waitForInvocation(runId: string, command: string, timeoutMs?: number): Promise<DoubleInvocation>;
  /** BullMQ's own timestamps of a job: enqueued, picked up, finished (ms since the epoch). */
  jobTimes(queue: 'plan' | 'apply', runId: string): Promise<{ enqueuedMs: number; processedMs: number; finishedMs: number }>;
  /** A control plane opened the way `airlock approve` opens it. */
  cli(): Promise<ControlPlane>;
  /** `airlock approve RUN --yes`, from decideRun on (returns once the decision is stored and the apply queued). */
  approve(cp: ControlPlane, runId: string): Promise<void>;
}

/** The hash of job `<queue>-<runId>`, whichever queue holds it (apply queues are per runner: `apply-<runner id>`). */
async function findJobKey(redis: Redis, prefix: string, queue: string, runId: string): Promise<string | null> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:bull:${queue}*:${queue}-${runId}`, 'COUNT', 1000);
    if (keys[0]) return keys[0];
    cursor = next;
  } while (cursor !== '0');
  return null;
}

export interface LoopOptions {
  watch?: boolean;
  pollInterval?: string;
  approval?: Record<string, unknown>;
  sandbox?: boolean;
  /** Another engine than the double (the zero-time engine); the double's knobs are then ignored. */
  engineBinary?: string;
  metrics?: Record<string, unknown>;
  traces?: Record<string, unknown>;
  /** false: a sandbox per engine command, as before engine sessions (the comparison). */
  sessions?: boolean;
}

export async function startLoop(scope: Scope, label: string, engineEnv: Record<string, string>, opts: LoopOptions = {}): Promise<Loop> {
  const root = await scope.tempDir(label);
  const remote = await makeRemote();
  scope.defer(() => remote.cleanup());
  const prefix = scope.prefix(label);
  const invocationLog = path.join(root, 'engine-invocations.jsonl');
  const loaded = await writeBenchConfig({
    runnerId: label,
    dataDir: path.join(root, 'data'),
    prefix,
    repos: [{ name: 'infra', url: remote.url, pollInterval: opts.pollInterval ?? '1s' }],
    engine: opts.engineBinary ? { binary: opts.engineBinary, env: engineEnv } : doubleEngine({ AIRLOCK_DOUBLE_LOG: invocationLog, ...engineEnv }),
    ...(opts.approval ? { approval: opts.approval } : {}),
    ...(opts.sandbox === false ? { sandbox: false } : {}),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    ...(opts.traces ? { traces: opts.traces } : {}),
    ...(opts.sessions === false ? { sessions: false } : {}),
  });
  const probe = await startProbe(scope, loaded.file, { watch: opts.watch ?? false });
  const redis = connectRedis(loaded.config.redis.url);
  scope.defer(async () => redis.disconnect());
  const runs = new RunStore(redis, prefix);
  const inJob = (runId: string) => `${path.sep}jobs${path.sep}${runId}${path.sep}`;

  return {
    remote,
    loaded,
    probe,
    runs,
    prefix,
    invocationLog,
    commit: (pr, content) => pushRawTree(remote, [{ name: 'main.tf', blob: content }], { refs: [], message: `pr ${pr}` }),
    async moveRef(pr, sha) {
      await setRef(remote, `refs/pull/${pr}/head`, sha);
      return nowMs();
    },
    runId: (sha) => deriveRunId('infra', 'default', sha),
    waitForState: (runId, states, timeoutMs) =>
      waitUntil(`run ${runId} to reach ${states.join('|')}`, async () => {
        const run = await runs.find(runId);
        if (run && (run.state === 'failed' || run.state === 'needs_attention') && !states.includes(run.state)) {
          throw new Error(`run ${runId} ended ${run.state}: ${run.error?.message ?? run.attention?.reason ?? ''}; runner log: ${probe.logFile}`);
        }
        return run && states.includes(run.state) ? run : undefined;
      }, timeoutMs),
    waitForInvocation: (runId, command, timeoutMs) =>
      waitUntil(`engine ${command} of run ${runId}`, async () => (await readDoubleLog(invocationLog)).find((i) => i.argv[0] === command && `${i.cwd}${path.sep}`.includes(inJob(runId))), timeoutMs, 5),
    // The run reaches its state before the job returns (an apply still removes its job dir), so wait for BullMQ.
    jobTimes: (queue, runId) =>
      waitUntil(`${queue} job of ${runId} to finish`, async () => {
        const key = await findJobKey(redis, prefix, queue, runId);
        if (!key) return undefined;
        const [ts, processed, finished] = await redis.hmget(key, 'timestamp', 'processedOn', 'finishedOn');
        return finished ? { enqueuedMs: Number(ts), processedMs: Number(processed), finishedMs: Number(finished) } : undefined;
      }, 30_000, 5),
    async cli() {
      const cp = await openControlPlane(loaded, { writer: 'cli', log: pino({ level: 'silent' }) });
      scope.defer(() => cp.close());
      return cp;
    },
    async approve(cp, runId) {
      const code = await decideRun(cp, { out: () => undefined, err: () => undefined, isTTY: false }, runId, 'approve', { yes: true });
      if (code !== 0) throw new Error(`approve ${runId} exited ${code}`);
    },
  };
}
