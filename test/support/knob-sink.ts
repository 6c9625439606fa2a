// The far end of the terraform double's knob files (test/doubles/terraform-double/sink.mjs). A sandboxed
// engine cannot write the test's invocation log or env dumps; it sends each write here over a Unix socket
// in a directory the runner config mounts read-only (engine.sandbox.readOnlyPaths), and this process,
// outside the sandbox, performs it. One sink per test process, started on first use.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

let sink: { dir: string; socket: string } | null = null;

/** The sink's socket and the directory to mount read-only; the server never keeps the process alive. */
export function knobSink(): { dir: string; socket: string } {
  if (sink) return sink;
  const dir = mkdtempSync(path.join(tmpdir(), 'airlock-knob-sink-'));
  chmodSync(dir, 0o755); // the sandbox user must reach the socket
  const socket = path.join(dir, 'sink.sock');
  const server = createServer((conn) => {
    let text = '';
    conn.on('error', () => undefined);
    conn.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const newline = text.indexOf('\n');
      if (newline < 0) return;
      const { op, path: file, data } = JSON.parse(text.slice(0, newline)) as { op: 'append' | 'write'; path: string; data: string };
      const done = op === 'append' ? appendFile(file, data) : mkdir(path.dirname(file), { recursive: true }).then(() => writeFile(file, data, { mode: 0o600 }));
      void done.then(() => conn.end('ok\n'), () => conn.end('error\n'));
    });
  });
  server.listen(socket, () => chmodSync(socket, 0o777));
  server.unref();
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  sink = { dir, socket };
  return sink;
}
