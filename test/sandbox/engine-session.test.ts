// Engine sessions: a plan job's init, plan and show in one sandbox (sandbox/driver.ts), with the wall as it
// was with one sandbox per command: nothing a step leaves runs on into the next, no step can reach the
// driver or another step's output, each step gets exactly its environment, and a timeout still ends
// everything. Each shared-sandbox claim has its control: the same probe with one sandbox per command, or a
// probe of the step's own process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { createEngine } from '../../src/engine/engine.ts';
import { traceableBy } from '../../src/engine/engine-session.ts';
import { hasCode } from '../../src/errors.ts';
import { copyExecOnly } from '../../src/sandbox/driver-shell.ts';
import { makeJob, specForTests, waitFor, type Job } from '../engine/engine-under-test.ts';
import { sandboxedTests } from '../support/engine-under-test.ts';
import { descendants, sandboxSettingsForTests, scriptEngine } from './sandbox-fixture.ts';

const skip = !sandboxedTests() && 'AIRLOCK_TEST_SANDBOX=none';
const root = process.getuid?.() === 0;

/**
 * A script engine that says which sandbox it is in, and answers plan and show like an engine. init leaves a
 * marker in the sandbox's private /tmp; every step prints its pid and the marker it finds ("none" in a
 * fresh sandbox). Namespace ids are no proof: the kernel reuses them once a namespace is gone.
 */
const NAMESPACES = `[ "$1" = init ] && echo "$$-$(date +%s%N)" > /tmp/airlock-session-marker
echo "sandbox pid $$ marker $(cat /tmp/airlock-session-marker 2>/dev/null || echo none)"
case "$1" in
  plan) for a in "$@"; do case "$a" in -out=*) echo plan > "\${a#-out=}" ;; esac; done; exit 2 ;;
  show) echo '{"shown":true}' ;;
esac`;

async function threeSteps(t: TestContext, body: string, opts: { sessions?: boolean; env?: Record<string, string>; secrets?: Record<string, string> } = {}) {
  const job = await makeJob(t);
  const script = await scriptEngine(t, body);
  const sandbox = { ...sandboxSettingsForTests({}, [script.dir]), ...(opts.sessions === false ? { sessions: false } : {}) };
  const engine = createEngine(specForTests({ binary: script.binary, sandbox, env: opts.env ?? {} }));
  const lines: string[] = [];
  const call = { ...job.call, secrets: opts.secrets ?? {}, onLine: (l: string) => lines.push(l) };
  const session = engine.session({ planFile: job.at('plan.tfplan') });
  try {
    await session.init(call);
    await session.plan(call, job.at('plan.tfplan'));
    await session.showJson(call, job.at('plan.tfplan'), job.at('plan.json'));
  } finally {
    await session.close();
  }
  return { lines, job, json: await readFile(job.at('plan.json'), 'utf8'), planFile: await readFile(job.at('plan.tfplan'), 'utf8') };
}

/** What each step said about its sandbox: its pid and the marker it found, init's first. */
const sandboxes = (lines: string[], json?: string) =>
  [...lines, ...(json ? [json.split('\n')[0]!] : [])].filter((l) => l.startsWith('sandbox pid ')).map((l) => {
    const [, pid, marker] = /^sandbox pid (\d+) marker (\S+)$/.exec(l)!;
    return { pid: Number(pid), marker: marker! };
  });

test('init, plan and show run in one sandbox: init\'s /tmp is still there for plan and show', { skip }, async (t) => {
  const { lines, json, planFile } = await threeSteps(t, NAMESPACES);
  const seen = sandboxes(lines, json);
  assert.equal(seen.length, 3, JSON.stringify(lines));
  assert.notEqual(seen[0]!.marker, 'none');
  assert.deepEqual(seen.map((s) => s.marker), [seen[0]!.marker, seen[0]!.marker, seen[0]!.marker]);
  // pid 1 is the driver: each step is a new process of the same PID namespace.
  assert.ok(seen.every((s) => s.pid > 1) && new Set(seen.map((s) => s.pid)).size === 3, JSON.stringify(seen));
  assert.equal(json.split('\n')[1], '{"shown":true}');
  assert.equal(planFile, 'plan\n', 'the plan file is the runner\'s copy of what the sandbox wrote');
});

test('control: with engine.sandbox.sessions false every command has a sandbox of its own', { skip }, async (t) => {
  const { lines, json } = await threeSteps(t, NAMESPACES, { sessions: false });
  const seen = sandboxes(lines, json);
  assert.deepEqual(seen.map((s) => [s.pid, s.marker === 'none']), [[1, false], [1, true], [1, true]], JSON.stringify(seen));
});

const HOSTILE_PLAN = `case "$1" in
  plan)
    sleep 600 &
    echo $! > "$HOME/straggler.pid"
    kill -0 $! && echo "control: straggler alive in plan"
    cat /proc/1/environ >/dev/null 2>&1 && echo "HOSTILE read the driver's environ"
    ls /proc/1/fd >/dev/null 2>&1 && echo "HOSTILE listed the driver's fds"
    for f in /proc/1/fd/*; do (echo '{"fake":true}' > "$f") 2>/dev/null && echo "HOSTILE wrote $f"; done
    for fd in 3 4 5 6 7 8 9; do (eval "echo '{\\"fake\\":true}' >&$fd") 2>/dev/null && echo "HOSTILE wrote fd $fd"; done
    cat /proc/self/environ >/dev/null 2>&1 && echo "control: own environ read"
    ls /proc/self/fd >/dev/null 2>&1 && echo "control: own fds listed"
    for a in "$@"; do case "$a" in -out=*) echo plan > "\${a#-out=}" ;; esac; done
    exit 2 ;;
  show)
    if kill -0 "$(cat "$HOME/straggler.pid")" 2>/dev/null; then echo "HOSTILE straggler alive in show" >&2; else echo "straggler gone in show" >&2; fi
    echo '{"shown":true}' ;;
esac`;

test('a step reaches neither the driver nor a later step\'s output, and leaves nothing running into the next', { skip }, async (t) => {
  const before = new Set(await descendants());
  const { lines, json } = await threeSteps(t, HOSTILE_PLAN);
  assert.deepEqual(lines.filter((l) => l.includes('HOSTILE')), [], JSON.stringify(lines));
  assert.ok(lines.includes('control: straggler alive in plan') && lines.includes('control: own environ read') && lines.includes('control: own fds listed'), JSON.stringify(lines));
  assert.ok(lines.includes('straggler gone in show'), JSON.stringify(lines));
  assert.equal(json, '{"shown":true}\n', 'show\'s output is exactly what show printed');
  assert.deepEqual((await descendants()).filter((p) => !before.has(p)), [], 'nothing of the sandbox is left once the session is closed');
});

test('each step gets exactly its environment: quotes, newlines and $ intact; a name the shell cannot export still arrives', { skip }, async (t) => {
  const tricky = `it's "quoted"\nsecond line $HOME \`id\` $(id) \\ end '"'"'`;
  // The environment the engine was started with (/proc/$$/environ): its own shell would drop a name like my-var.
  const body = `printf 'env %s\\n' "$(tr '\\0' '\\n' < /proc/$$/environ | tr '\\n' '|')"\n${NAMESPACES}`;
  const check = (lines: string[], extra: string[]) => {
    const envs = lines.filter((l) => l.startsWith('env '));
    assert.equal(envs.length, 2);
    for (const e of envs) {
      for (const want of [`TF_VAR_tricky=${tricky.replace(/\n/g, '|')}|`, 'PLAIN=x|', ...extra]) assert.ok(e.includes(want), `${want} in ${e}`);
      assert.doesNotMatch(e, /\bPWD=/);
    }
  };
  const shared = await threeSteps(t, body, { env: { PLAIN: 'x' }, secrets: { TF_VAR_tricky: tricky } });
  check(shared.lines, []);
  assert.deepEqual(sandboxes(shared.lines).map((s) => s.marker === 'none'), [false, false], 'one sandbox');
  const dashed = await threeSteps(t, body, { env: { PLAIN: 'x' }, secrets: { TF_VAR_tricky: tricky, 'TF_VAR_my-var': 'dashed' } });
  check(dashed.lines, ['TF_VAR_my-var=dashed|']);
  // The variable the shell cannot export sent every step to a sandbox of its own.
  assert.deepEqual(sandboxes(dashed.lines).map((s) => s.marker === 'none'), [false, true], JSON.stringify(dashed.lines));
});

async function sessionStep(t: TestContext, body: string, timeouts: Partial<Record<'plan', number>>) {
  const job: Job = await makeJob(t);
  const script = await scriptEngine(t, `case "$1" in init) exit 0 ;; esac\n${body}`);
  const base = specForTests();
  const engine = createEngine(specForTests({ binary: script.binary, sandbox: sandboxSettingsForTests({}, [script.dir]), timeouts: { ...base.timeouts, ...timeouts }, killGraceMs: 500 }));
  const session = engine.session({ planFile: job.at('plan.tfplan') });
  t.after(() => session.close());
  await session.init(job.call);
  return { session, job };
}

test('a timeout in a session ends the step and everything it started; an engine deaf to SIGTERM is killed with the sandbox', { skip }, async (t) => {
  const before = new Set(await descendants());
  for (const body of ['sleep 600 & sleep 600', 'trap "" TERM; sleep 600 & sleep 600']) {
    const { session, job } = await sessionStep(t, body, { plan: 1500 });
    await assert.rejects(session.plan(job.call, job.at('plan.tfplan')), (err: unknown) => hasCode(err, 'airlock:engine-timeout'));
    await session.close();
    await waitFor('every process of the sandbox to be gone', async () => ((await descendants()).filter((p) => !before.has(p)).length === 0 ? true : undefined));
  }
});

test('a step killed by a signal is reported as killed, with the signal', { skip }, async (t) => {
  const { session, job } = await sessionStep(t, 'kill -KILL $$', {});
  await assert.rejects(session.plan(job.call, job.at('plan.tfplan')), (err: unknown) => hasCode(err, 'airlock:engine-killed') && (err as { signal?: string }).signal === 'SIGKILL');
});

test('a sandbox that cannot start fails the step with airlock:sandbox-start and bwrap\'s own words', { skip }, async (t) => {
  const job = await makeJob(t);
  const script = await scriptEngine(t, 'exit 0');
  const engine = createEngine(specForTests({ binary: script.binary, sandbox: sandboxSettingsForTests({}, [script.dir, '/nonexistent/airlock-ro-path']) }));
  const session = engine.session({ planFile: job.at('plan.tfplan') });
  await assert.rejects(session.init(job.call), (err: unknown) => hasCode(err, 'airlock:sandbox-start') && /nonexistent/.test((err as Error).message));
  await session.close();
});

const RUNNER = fileURLToPath(new URL('./fixtures/session-as-runner.ts', import.meta.url));
const UID = 64200;

test('a non-root runner: one sandbox too, and the driver, sharing the engine\'s uid, cannot be reached from a step', { skip: skip || (!root && 'needs root to start a process as another uid') }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-session-nonroot-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o755);
  await chown(dir, UID, UID);
  const { stdout } = await promisify(execFile)('setpriv', [`--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', process.execPath, '--import', 'tsx', RUNNER, dir, HOSTILE_PLAN], {
    env: { PATH: '/usr/bin:/bin', HOME: dir },
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
  });
  assert.doesNotMatch(stdout, /ERROR|HOSTILE/, stdout);
  assert.match(stdout, /control: own environ read/);
  assert.match(stdout, /straggler gone in show/);
  const markers = stdout.split('\n').filter((l) => l.startsWith('marker '));
  assert.equal(markers.length, 3, stdout);
  assert.ok(markers.every((m) => m === markers[0] && m !== 'marker none'), stdout);
});

test('what makes that so: a process started from an exec-only shell is not traceable by its own uid; from the plain shell it is', { skip: !root && 'needs root to start a process as another uid' }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-exec-only-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o755);
  const execOnly = path.join(dir, 'sh');
  await copyExecOnly(execOnly);
  await chown(execOnly, UID, UID);
  // Started as that uid with no capability, as bwrap starts the driver; `; :` keeps the shell from exec'ing sleep.
  const start = (shell: string) => spawn(shell, ['-c', 'sleep 30; :'], { uid: UID, gid: UID, stdio: 'ignore' });
  const plain = start('/bin/sh');
  const hidden = start(execOnly);
  t.after(() => {
    plain.kill('SIGKILL');
    hidden.kill('SIGKILL');
  });
  const running = async (pid: number) => ((await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).startsWith('/') ? true : undefined);
  await waitFor('both shells to run', async () => ((await running(plain.pid!)) && (await running(hidden.pid!))) || undefined);
  assert.equal(await traceableBy(plain.pid!, UID), true, 'control: an ordinary process of that uid is traceable by it');
  assert.equal(await traceableBy(hidden.pid!, UID), false);
});

test('the engine under test (the double, or AIRLOCK_TEST_ENGINE) plans in a session exactly as in one sandbox per command', { skip }, async (t) => {
  const config = 'resource "terraform_data" "a" {\n  input = "session"\n}\n';
  const shown: unknown[] = [];
  for (const sessions of [true, false]) {
    const job = await makeJob(t, config);
    const engine = createEngine(specForTests({ sandbox: { ...sandboxSettingsForTests(), sessions } }));
    const session = engine.session({ planFile: job.at('plan.tfplan') });
    try {
      await session.init(job.call);
      assert.equal((await session.plan(job.call, job.at('plan.tfplan'))).changes, true);
      await session.showJson(job.call, job.at('plan.tfplan'), job.at('plan.json'));
    } finally {
      await session.close();
    }
    const plan = JSON.parse(await readFile(job.at('plan.json'), 'utf8')) as { resource_changes: Array<{ address: string; change: { actions: string[]; after: unknown } }> };
    shown.push(plan.resource_changes.map((c) => [c.address, c.change.actions, (c.change.after as { input?: unknown }).input]));
  }
  assert.deepEqual(shown[0], [['terraform_data.a', ['create'], 'session']]);
  assert.deepEqual(shown[0], shown[1]);
});
