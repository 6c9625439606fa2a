// Where the double's knob files go. Outside a sandbox it writes them itself. Inside one (the runner's
// engine sandbox sees no test directory read-write) it hands each write to the test's sink over a Unix
// socket that the sandbox config mounts read-only (AIRLOCK_DOUBLE_SINK; test/support/knob-sink.ts), and
// waits for the sink's answer, so a test that sees a record knows the double got that far.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';

/** Append (`op: 'append'`) or create (`op: 'write'`, mode 0600) a knob file. */
export function deliver(op, path, data) {
  const sink = process.env.AIRLOCK_DOUBLE_SINK;
  if (!sink) {
    if (op === 'append') appendFileSync(path, data);
    else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, data, { mode: 0o600 });
    }
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    const socket = connect(sink);
    socket.once('error', reject);
    socket.once('data', () => {
      socket.end();
      resolve();
    });
    socket.write(JSON.stringify({ op, path, data }) + '\n');
  });
}
