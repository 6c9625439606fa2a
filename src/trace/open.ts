// Opens a process's traces from the runner config: null, and no OpenTelemetry module loaded at all, unless
// `traces.otlp` is set. Header values from files are read here (through the caller's secret reader, which
// hands them to the scrubber), before anything is sent.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { RunStore } from '../run/run-store.ts';
import { tracesUrl, type OtlpConfig, type TracesConfig } from './config.ts';
import { createRunTracer } from './run-tracer.ts';
import type { RunTracing } from './trace.ts';

export interface OpenTracesDeps {
  runs: Pick<RunStore, 'find' | 'update'>;
  log: Logger;
  /** Reads a header value's file (relative to the config file), checking who may read it; scrubbed from then on. */
  readSecret(file: string, what: string): Promise<string>;
  scrub(text: string): string;
  /** `service.instance.id` of this process: the runner's id (`<id>-cli` for the CLI). */
  instanceId: string;
  /** How long closing may wait for the last spans, and so any one export (the CLI waits less than a runner). */
  shutdownWaitMs?: number;
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** An export failure is logged at once, then at most once a minute with the count in between. */
const EXPORT_ERROR_EVERY_MS = 60_000;

/** The request headers, with each `{ file, prefix }` value read from its file. */
export async function resolveHeaders(otlp: OtlpConfig, readSecret: OpenTracesDeps['readSecret']): Promise<Record<string, string>> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(otlp.headers)) {
    headers[name] = typeof value === 'string' ? value : `${value.prefix}${await readSecret(value.file, `the value of the OTLP header ${name}`)}`;
  }
  return headers;
}

/** The endpoint as a log line may show it: scheme, host and path. */
export function shownEndpoint(endpoint: string): string {
  const url = new URL(tracesUrl(endpoint));
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** This process's run tracing, or null (and nothing of OpenTelemetry loaded) when `traces.otlp` is not set. */
export async function openTraces(config: TracesConfig, deps: OpenTracesDeps): Promise<RunTracing | null> {
  if (!config.otlp) return null;
  const headers = await resolveHeaders(config.otlp, deps.readSecret);
  const endpoint = shownEndpoint(config.otlp.endpoint);
  const { createOtelSink } = await import('./otel.ts');
  let lastLogged = 0;
  let missed = 0;
  const sink = createOtelSink({
    url: tracesUrl(config.otlp.endpoint),
    headers,
    // No export outlives a close: a CLI command never waits on a dead collector for long.
    timeoutMs: Math.min(config.otlp.timeout, deps.shutdownWaitMs ?? Number.POSITIVE_INFINITY),
    exportDelayMs: config.exportDelay,
    service: { name: config.serviceName, version: VERSION, instanceId: deps.instanceId },
    scrub: deps.scrub,
    onExportError(err) {
      missed++;
      if (Date.now() - lastLogged < EXPORT_ERROR_EVERY_MS) return;
      deps.log.warn({ event: 'traces.export_failed', endpoint, failures: missed, error: deps.scrub(err?.message ?? 'unknown error') }, 'sending spans to the OTLP endpoint failed; those spans are dropped (runs are unaffected)');
      lastLogged = Date.now();
      missed = 0;
    },
  });
  deps.log.info({ endpoint }, 'traces: one trace per run, sent over OTLP/HTTP');
  return createRunTracer(sink, { runs: deps.runs, log: deps.log, ...(deps.shutdownWaitMs === undefined ? {} : { shutdownWaitMs: deps.shutdownWaitMs }) });
}
