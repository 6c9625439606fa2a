// `airlock doctor` for traces: when `traces.otlp` is set, the header files can be read and the endpoint
// takes an (empty) OTLP/HTTP export with those headers. Loads no OpenTelemetry module.
import type { Check } from '../lib/check.ts';
import { tracesUrl, type TracesConfig } from './config.ts';
import { resolveHeaders, shownEndpoint, type OpenTracesDeps } from './open.ts';

/** What an answer to an empty export means, and what to do about it. */
function judge(status: number, where: string): Check {
  const name = 'traces';
  if (status >= 200 && status < 300) return { name, ok: true, detail: `${where} takes OTLP/HTTP exports (HTTP ${status}); one trace per run will be sent` };
  if (status === 401 || status === 403) return { name, ok: false, detail: `${where} refused the export (HTTP ${status})`, fix: 'check the credential header under `traces.otlp.headers` (and its file)' };
  if (status === 404 || status === 405) return { name, ok: false, detail: `${where} has no OTLP/HTTP traces receiver (HTTP ${status})`, fix: 'point `traces.otlp.endpoint` at the collector\'s traces URL, like http://127.0.0.1:4318/v1/traces (OTLP over HTTP, not gRPC on 4317)' };
  if (status === 415) return { name, ok: false, detail: `${where} does not take the JSON encoding (HTTP 415)`, fix: 'enable the OTLP/HTTP receiver of the collector (it takes JSON and protobuf)' };
  return { name, ok: false, detail: `${where} answered HTTP ${status} to an empty export`, fix: 'check the collector\'s own logs' };
}

/** The doctor lines for traces: none when they are off. */
export async function checkTraces(config: TracesConfig, deps: Pick<OpenTracesDeps, 'readSecret' | 'scrub'>): Promise<Check[]> {
  if (!config.otlp) return [];
  const where = shownEndpoint(config.otlp.endpoint);
  let headers: Record<string, string>;
  try {
    headers = await resolveHeaders(config.otlp, deps.readSecret);
  } catch (err) {
    const e = err as Error & { hint?: string };
    return [{ name: 'traces', ok: false, detail: deps.scrub(e.message), fix: e.hint ?? 'fix the file named under `traces.otlp.headers`' }];
  }
  try {
    const res = await fetch(tracesUrl(config.otlp.endpoint), {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [] }),
      signal: AbortSignal.timeout(Math.min(config.otlp.timeout, 15_000)),
      redirect: 'manual',
    });
    await res.body?.cancel();
    return [judge(res.status, where)];
  } catch (err) {
    const cause = (err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    return [{ name: 'traces', ok: false, detail: `${where} cannot be reached (${deps.scrub(String(cause))})`, fix: 'start the collector, or fix `traces.otlp.endpoint`; runs are unaffected, their spans are dropped' }];
  }
}
