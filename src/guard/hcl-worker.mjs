// The HCL parser's thread. @cdktf/hcl2json runs Go compiled to WebAssembly, and a parse holds its thread
// until it is done (seconds for a large file), so it runs here, where it cannot stall the runner's event
// loop (queue lock renewals, the watcher), and where a stuck parse can be ended by terminating the thread.
// Plain JavaScript: worker threads do not inherit the tsx loader the CLI registers.
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';

const hcl = createRequire(import.meta.url)('@cdktf/hcl2json');

parentPort.on('message', async ({ id, op, filename, text }) => {
  try {
    const value = op === 'parse' ? await hcl.parse(filename, text) : await hcl.getExpressionAst(filename, text);
    parentPort.postMessage({ id, ok: true, value });
  } catch (err) {
    parentPort.postMessage({ id, ok: false, message: err instanceof Error ? err.message : String(err) });
  }
});
