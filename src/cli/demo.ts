// `airlock demo`: the whole loop on this machine, against a temporary repo: an agent's PR moves, the
// runner plans it, a human decides (through the same code as `airlock approve`), the runner applies
// exactly that plan, and the audit trail is printed.
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Run } from '../run/run.ts';
import { isFinal } from '../run/run.ts';
import { readAuditRecords } from '../audit/read-audit.ts';
import { loadConfig } from '../config/load.ts';
import { AirlockError } from '../errors.ts';
import { createLogger } from '../log/logger.ts';
import { deleteKeysUnder } from '../runner/delete-prefix.ts';
import { startRunner, type Runner } from '../runner/runner.ts';
import { demoSandbox, ENGINE_DOUBLE, findRealEngine, makeDemoRemote, redisAnswers, startPrivateRedis } from './demo-env.ts';
import type { Output } from './output.ts';
import { renderRunDetail } from './read-commands.ts';
import { decideRun } from './run-commands.ts';

export interface DemoOptions {
  configFile: string;
  output: Output;
  /** Decide without asking; without it, a terminal asks and anything else approves. */
  decision?: 'approve' | 'deny';
  ask?: (question: string) => Promise<string>;
  timeoutMs?: number;
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const { output } = opts;
  const say = (s: string) => output.out(s);
  const root = await mkdtemp(path.join(tmpdir(), 'airlock-demo-'));
  const cleanups: Array<() => Promise<void>> = [() => rm(root, { recursive: true, force: true })];
  let failureHint = async (): Promise<void> => undefined;
  try {
    const loaded = await loadConfig(opts.configFile);
    const { config } = loaded;
    say('Airlock demo: an agent opens a pull request; the runner plans it, you decide, the runner applies.\n');

    // Engine
    const real = await findRealEngine();
    if (real) {
      config.engine.kind = real.kind;
      config.engine.binary = real.binary;
      say(`engine:  ${real.binary}`);
    } else {
      config.engine.kind = 'terraform';
      config.engine.binary = ENGINE_DOUBLE;
      config.engine.path = `${path.dirname(process.execPath)}:${config.engine.path}`;
      say('engine:  neither terraform nor tofu is on PATH; using the test double (a stand-in, not the real tool)');
    }

    // Redis
    if (!(await redisAnswers(config.redis.url))) {
      const redis = await startPrivateRedis(root).catch(() => {
        throw new AirlockError('airlock:redis-unreachable', `nothing answers at ${config.redis.url} and redis-server could not be started`, {
          hint: 'Install Redis (apt-get install redis-server) or point `redis.url` in runners/demo.yaml at a running one.',
        });
      });
      cleanups.push(redis.stop);
      config.redis.url = redis.url;
      say(`redis:   nothing answered at the configured URL; started a private redis-server at ${redis.url}`);
    } else {
      say(`redis:   ${config.redis.url}`);
    }
    config.redis.prefix = `${config.redis.prefix}-${randomBytes(4).toString('hex')}`;
    cleanups.push(() => deleteKeysUnder(config.redis.url, config.redis.prefix));
    config.runner.dataDir = path.join(root, 'data');
    say(await demoSandbox(config, !real));

    // The agent's side
    const remote = await makeDemoRemote(root);
    config.repos[0]!.url = remote.url;
    say(`remote:  ${remote.url}  (the agent pushed ${remote.sha.slice(0, 10)} to refs/pull/1/head)\n`);

    // The runner's own log goes to a file so the demo's story stays readable; its tail is shown on failure.
    const logFile = path.join(root, 'runner.log');
    const logStream = createWriteStream(logFile, { mode: 0o600 });
    cleanups.push(async () => void logStream.end());
    const runner = await startRunner(loaded, { log: createLogger({ level: 'info', destination: logStream, pretty: false }) });
    failureHint = async () => {
      const tail = (await readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-8).join('\n');
      if (tail) say(`\nlast runner log lines:\n${tail}`);
    };
    cleanups.push(() => runner.stop());

    const timeoutMs = opts.timeoutMs ?? 180_000;
    let run = await follow(runner, say, (r) => r.state !== 'planning', timeoutMs, output.isTTY);
    if (run.state !== 'awaiting_approval') {
      say(await renderRunDetail(runner.cp, run, output.isTTY));
      throw new AirlockError('airlock:demo-failed', `the plan ended ${run.state} instead of awaiting approval`, { hint: 'See the run details above.' });
    }
    say(`\nThe runner planned the PR and asks for a decision (on a phone with ntfy, here on the terminal):\n`);
    say(await renderRunDetail(runner.cp, run, output.isTTY));

    const interactive = output.isTTY && process.stdin.isTTY && !opts.decision;
    let decision = opts.decision ?? 'approve';
    if (interactive || opts.ask) {
      const ask = opts.ask ?? (await import('./run-commands.ts')).askOnTerminal;
      decision = (await ask('\nApprove this plan? [y/N] ')).trim().toLowerCase() === 'y' ? 'approve' : 'deny';
    } else if (!opts.decision) {
      say('\n(no terminal attached: approving as the demo operator)');
    }
    await decideRun(runner.cp, output, run.id, decision, { yes: true, confirm: true });

    run = await follow(runner, say, (r) => isFinal(r.state), timeoutMs, output.isTTY, run.id);
    say(`\nfinal state: ${run.state}`);
    say('\naudit trail of the run (hash-chained, fsynced):');
    for (const r of await readAuditRecords(runner.cp.paths.auditDir, { run: run.id })) {
      say(`  #${String(r.seq).padStart(3)} ${r.time}  ${r.type.padEnd(20)} by ${r.actor.kind}:${r.actor.id}  ${r.hash.slice(0, 12)}`);
    }
    const expected = decision === 'approve' ? 'applied' : 'denied';
    if (run.state !== expected) throw new AirlockError('airlock:demo-failed', `the run ended ${run.state}, expected ${expected}`, { hint: `Inspect it: the error was ${run.error?.message ?? 'none'}` });
    say(`\ndemo finished: the run was ${run.state}.`);
    return 0;
  } catch (err) {
    await failureHint();
    throw err;
  } finally {
    // Undo in reverse order of acquisition: runner, keys, private Redis, temp dir.
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}

/** Poll the demo's run and print each state it passes through until `done`. */
async function follow(runner: Runner, say: (s: string) => void, done: (r: Run) => boolean, timeoutMs: number, tty: boolean, runId?: string): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let last = '';
  for (let i = 0; Date.now() < deadline; i++) {
    const run = runId ? await runner.cp.runs.find(runId) : (await runner.cp.runs.list(1))[0];
    const label = run ? run.state : 'watching for the pull request';
    if (label !== last) {
      if (tty && last) process.stdout.write('\r\x1b[K');
      say(`${run ? `run ${run.id}: ` : ''}${label}`);
      last = label;
    } else if (tty) {
      process.stdout.write(`\r${frames[i % frames.length]} ${label}…`);
    }
    if (run && done(run)) {
      if (tty) process.stdout.write('\r\x1b[K');
      return run;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new AirlockError('airlock:demo-timeout', `the demo run did not finish within ${timeoutMs / 1000}s`, { hint: 'Run `airlock doctor --config runners/demo.yaml`.' });
}
