import { Scope } from './bench-support.ts';
import { measureInstrumentation } from './instrumentation.ts';
import { startOtlpReceiver } from '../doubles/otlp-receiver.ts';
const scope = new Scope('inst-try');
const r = await startOtlpReceiver();
try { const res = await measureInstrumentation(scope, r); console.log(JSON.stringify(res.figures)); } finally { await r.close(); await scope.close(); }
