// The HCL parser's process. @cdktf/hcl2json runs Go compiled to WebAssembly: a parse holds its thread
// until it is done (seconds for a large file), and the module takes ~70 MB once instantiated. In a
// process of its own it cannot stall the runner's event loop (queue lock renewals, the watcher), a stuck
// parse is ended by killing it, and all of its memory goes back to the system when it exits; the runner
// itself stays small, which also keeps its every later spawn cheap. Plain JavaScript: it runs without
// the tsx loader, from src/ and from dist/ alike.
import { createRequire } from 'node:module';

const hcl = createRequire(import.meta.url)('@cdktf/hcl2json');

process.on('message', async ({ id, op, filename, text }) => {
  try {
    const value = op === 'parse' ? await hcl.parse(filename, text) : await hcl.getExpressionAst(filename, text);
    process.send({ id, ok: true, value });
  } catch (err) {
    process.send({ id, ok: false, message: err instanceof Error ? err.message : String(err) });
  }
});
// The runner went away (stopped, or killed): so does the parser.
process.on('disconnect', () => process.exit(0));
