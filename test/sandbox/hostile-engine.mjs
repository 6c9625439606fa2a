#!/usr/bin/env node
// A hostile engine: what a provider or a guard bypass could run during `plan`. Before behaving exactly
// like the terraform double (it runs it with the same arguments and environment), `plan` tries every
// escape from the engine sandbox and prints one line `AIRLOCK-HOSTILE <json>` saying what it managed.
// It never prints what it read, only whether it could. Targets come from HOSTILE_TARGETS (JSON): the test
// tells it where the runner keeps things, the worst case of an attacker who knows the layout.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

const DOUBLE = fileURLToPath(new URL('../doubles/terraform-double.mjs', import.meta.url));

function attemptSync(name, fn) {
  try {
    const ok = fn();
    return { attempt: name, ok: ok !== false };
  } catch (err) {
    return { attempt: name, ok: false, error: err.code ?? err.message };
  }
}

function tcpPing(host, port) {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2000 });
    const done = (result) => {
      socket.destroy();
      resolve(result);
    };
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done({ attempt: `tcp ${host}:${port}`, ok: String(d).startsWith('+PONG') || String(d).startsWith('-NOAUTH') }));
    socket.once('timeout', () => done({ attempt: `tcp ${host}:${port}`, ok: false, error: 'timeout' }));
    socket.once('error', (err) => done({ attempt: `tcp ${host}:${port}`, ok: false, error: err.code ?? err.message }));
  });
}

/** Whether any process this one can see has an environment value whose sha256 is `canarySha256`. */
function findInEnvirons(canarySha256) {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
        if (createHash('sha256').update(entry.slice(entry.indexOf('=') + 1)).digest('hex') === canarySha256) return true;
      }
    } catch {
      // not ours to read
    }
  }
  return false;
}

async function attempts(t) {
  const results = [
    attemptSync('read runner config', () => readFileSync(t.configFile).length > 0),
    attemptSync('read token file', () => readFileSync(t.tokenFile).length > 0),
    attemptSync('read secret-id file', () => readFileSync(t.secretIdFile).length > 0),
    // The sandbox shows the directories leading to its own mounts; seeing the audit dir or another job is an escape.
    attemptSync('list the data dir beyond its own job', () => readdirSync(t.dataDir).includes('audit') || readdirSync(`${t.dataDir}/jobs`).length > 1),
    attemptSync('read another job\'s plan file', () => readFileSync(t.otherPlanFile).length > 0),
    attemptSync('read a concurrent apply\'s environ', () => findInEnvirons(t.applyCanarySha256)),
    attemptSync('read the runner\'s environ', () => readFileSync(`/proc/${t.runnerPid}/environ`).length > 0),
    attemptSync('open the audit chain for appending', () => closeSync(openSync(t.auditFile, 'a'))),
    attemptSync('write outside the job dir', () => writeFileSync(t.outsideFile, 'hostile engine was here\n')),
    attemptSync('signal the runner', () => process.kill(t.runnerPid, 'SIGCONT')),
    await tcpPing('127.0.0.1', t.redisPort),
    await tcpPing('10.0.2.2', t.redisPort),
    // In a session the sandbox's pid 1 is the driver that will start `show`: reading its environment or
    // opening its fds (where show's output pipe waits) would be the way to fake what the approver sees.
    hostname() === 'airlock-engine' && process.pid !== 1
      ? attemptSync('reach the session driver (pid 1)', () => readFileSync('/proc/1/environ').length >= 0 || readdirSync('/proc/1/fd').length > 0)
      : { attempt: 'reach the session driver (pid 1)', ok: false, error: 'no driver: not in a session sandbox' },
  ];
  process.stdout.write(`AIRLOCK-HOSTILE ${JSON.stringify(results)}\n`);
}

const args = process.argv.slice(2);
if (args[0] === 'plan' && process.env.HOSTILE_TARGETS) await attempts(JSON.parse(process.env.HOSTILE_TARGETS));
const child = spawn(process.execPath, [DOUBLE, ...args], { stdio: 'inherit' });
const forward = (signal) => child.kill(signal);
process.on('SIGTERM', forward);
process.on('SIGINT', forward);
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});
