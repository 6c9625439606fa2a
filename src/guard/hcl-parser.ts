// The one user of @cdktf/hcl2json (HashiCorp's HCL parser compiled to WebAssembly), through a process of
// its own (hcl-worker.mjs): a parse blocks its thread, ~0.1-2 s for a few hundred KB of HCL, and the
// module instantiates ~7 MB of WebAssembly (~250 ms, ~70 MB of memory, measured on node 20). It starts on
// the first guard run, not at start-up, and ends after a minute without work. A child process rather than
// a worker thread: a thread's memory stays in the runner's RSS even after it ends (measured: 113 MB with
// the thread, 109 MB after terminate(), from 45 MB), and every spawn the runner makes costs more the
// bigger it is; a process gives all of it back when it exits.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** One node of an HCL expression as the parser reports it. */
export interface ExpressionNode {
  type: string;
  meta?: { name?: string; value?: string; type?: string; fullAccessor?: string; expandedFinalArgument?: unknown };
  children?: ExpressionNode[];
}

// A parse that never answers (a pathological file, a dead runtime) must not hang the plan job.
const PARSE_TIMEOUT_MS = 60_000;
const IDLE_MS = 60_000;

const PARSER = fileURLToPath(new URL('./hcl-worker.mjs', import.meta.url));

let worker: ChildProcess | null = null;
let idle: NodeJS.Timeout | undefined;
let nextId = 0;
// One call at a time: the parser works sequentially anyway, and each deadline then measures one parse.
let queue: Promise<unknown> = Promise.resolve();

/** Idle: close the channel, and the parser exits. Stuck: kill it. */
function stopWorker(how: 'idle' | 'stuck' = 'idle'): void {
  clearTimeout(idle);
  if (how === 'stuck') worker?.kill('SIGKILL');
  else if (worker?.connected) worker.disconnect();
  worker = null;
}

/** The parser process: no loader flags of the runner (tsx in tests), no environment (nothing it needs), stderr kept for a crash. */
function startParser(): ChildProcess {
  const child = fork(PARSER, [], { execArgv: [], env: {}, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' });
  // Neither the process nor its channel keeps the runner alive; the parser exits when the channel closes.
  child.unref();
  child.channel?.unref();
  // A parser that ended between calls is replaced at the next one; a call in flight hears of it itself.
  child.on('exit', () => worker === child && (worker = null));
  child.on('error', () => worker === child && stopWorker('stuck'));
  return child;
}

function call<T>(op: 'parse' | 'template', filename: string, text: string): Promise<T> {
  const run = async (): Promise<T> => {
    clearTimeout(idle);
    worker ??= startParser();
    const current = worker;
    const id = ++nextId;
    try {
      return await new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          stopWorker('stuck');
          reject(new Error(`the HCL parser did not answer within ${PARSE_TIMEOUT_MS / 1000} s`));
        }, PARSE_TIMEOUT_MS);
        const done = () => {
          clearTimeout(timer);
          current.off('message', onMessage);
          current.off('error', onError);
          current.off('exit', onExit);
        };
        const onMessage = (m: { id: number; ok: boolean; value?: T; message?: string }) => {
          if (m.id !== id) return;
          done();
          if (m.ok) resolve(m.value as T);
          else reject(new Error(m.message));
        };
        const onError = (err: Error) => {
          done();
          if (worker === current) worker = null;
          reject(new Error(`the HCL parser failed: ${err.message}`));
        };
        const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
          done();
          if (worker === current) worker = null;
          reject(new Error(`the HCL parser stopped (${code === null ? `signal ${signal}` : `exit code ${code}`})`));
        };
        current.on('message', onMessage);
        current.on('error', onError);
        current.on('exit', onExit);
        current.send({ id, op, filename, text }, (err) => err && onError(err));
      });
    } finally {
      if (worker !== null) {
        idle = setTimeout(() => stopWorker('idle'), IDLE_MS);
        idle.unref();
      }
    }
  };
  const result = queue.then(run, run);
  queue = result.catch(() => undefined);
  return result;
}

/** Parse one HCL file into hcl2json's JSON shape; throws with the parser's message (file:line,col). */
export async function parseHcl(filename: string, contents: string): Promise<Record<string, unknown>> {
  return call('parse', filename, contents);
}

/**
 * Parse `text` as an HCL template (the body of a quoted string, a heredoc or a template file) and return
 * its expression tree. Throws when it is not a valid template.
 */
export async function parseTemplate(filename: string, text: string): Promise<ExpressionNode | null> {
  let delimiter = 'AIRLOCK_TEMPLATE_END';
  while (text.split('\n').some((line) => line.trim() === delimiter)) delimiter += '_';
  return call('template', filename, `<<${delimiter}\n${text}\n${delimiter}\n`);
}
