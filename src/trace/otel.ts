// The OpenTelemetry SDK adapter, and the only file that imports @opentelemetry/*. open.ts loads it (with a
// dynamic import) only when `traces.otlp` is configured. No global provider or context manager is
// registered: spans get their parents explicitly, so several providers (a runner and an in-process CLI in
// tests) never meet. Spans go out in batches over OTLP/HTTP with the JSON encoding.
import { ROOT_CONTEXT, SpanStatusCode, TraceFlags, trace, type Attributes } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, RandomIdGenerator, TracerProvider, type IdGenerator, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { ATTR_ERROR_TYPE, ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { OpenSpan, SpanAttributes, SpanRef, SpanSink } from './trace.ts';

export interface OtelSinkOptions {
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  exportDelayMs: number;
  service: { name: string; version: string; instanceId: string };
  /** Every string attribute passes through here (the runner's secret scrubber) before it leaves. */
  scrub(text: string): string;
  /** An export that failed (the spans of that batch are dropped). */
  onExportError(err: Error | undefined): void;
}

/** Random ids, except for the one span started while `pinned` is set: the run's own span, promised by its traceparent. */
class PinnableIds implements IdGenerator {
  readonly #random = new RandomIdGenerator();
  pinned: SpanRef | null = null;
  generateTraceId = (): string => this.pinned?.traceId ?? this.#random.generateTraceId();
  generateSpanId = (): string => this.pinned?.spanId ?? this.#random.generateSpanId();
}

/** Tells of each failed export, and otherwise passes everything through. */
class ReportingExporter implements SpanExporter {
  constructor(
    private readonly inner: SpanExporter,
    private readonly onError: (err: Error | undefined) => void,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) this.onError(result.error);
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** Spans through the OpenTelemetry SDK, batched and sent over OTLP/HTTP (JSON). */
export function createOtelSink(options: OtelSinkOptions): SpanSink {
  const ids = new PinnableIds();
  const exporter = new OTLPTraceExporter({ url: options.url, headers: options.headers, timeoutMillis: options.timeoutMs });
  const provider = new TracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.service.name, [ATTR_SERVICE_VERSION]: options.service.version, [ATTR_SERVICE_INSTANCE_ID]: options.service.instanceId }),
    ),
    idGenerator: ids,
    spanProcessors: [new BatchSpanProcessor({ exporter: new ReportingExporter(exporter, options.onExportError), scheduledDelayMillis: options.exportDelayMs, exportTimeoutMillis: options.timeoutMs })],
  });
  const tracer = provider.getTracer('airlock', options.service.version);

  const clean = (attributes: SpanAttributes | undefined): Attributes =>
    Object.fromEntries(Object.entries(attributes ?? {}).map(([k, v]) => [k, typeof v === 'string' ? options.scrub(v) : v]));

  return {
    start(name, { parent, pin, startMs, attributes }): OpenSpan {
      const context = parent ? trace.setSpanContext(ROOT_CONTEXT, { ...parent, traceFlags: TraceFlags.SAMPLED, isRemote: true }) : ROOT_CONTEXT;
      const spanOptions = { attributes: clean(attributes), ...(startMs === undefined ? {} : { startTime: new Date(startMs) }), ...(parent ? {} : { root: true }) };
      ids.pinned = pin ?? null;
      let span;
      try {
        span = tracer.startSpan(name, spanOptions, context);
      } finally {
        ids.pinned = null;
      }
      const { traceId, spanId } = span.spanContext();
      return {
        ref: { traceId, spanId },
        end(end = {}) {
          if (end.attributes) span.setAttributes(clean(end.attributes));
          if (end.errorType !== undefined) {
            span.setAttribute(ATTR_ERROR_TYPE, options.scrub(end.errorType));
            span.setStatus({ code: SpanStatusCode.ERROR });
          }
          // An explicit end before the start (a clock step between processes) would be a negative duration.
          span.end(end.endMs === undefined ? undefined : new Date(Math.max(end.endMs, startMs ?? end.endMs)));
        },
      };
    },

    async shutdown(maxWaitMs) {
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, maxWaitMs);
        timer.unref();
      });
      // A failed last export rejects here too; ReportingExporter has told of it already.
      await Promise.race([provider.shutdown().catch(() => undefined), gaveUp]);
      clearTimeout(timer);
    },
  };
}
