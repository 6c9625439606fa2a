// An OTLP/HTTP traces receiver in the test's own process, standing in for an OpenTelemetry collector. It
// takes what an exporter POSTs to /v1/traces in the OTLP/JSON encoding (gzip or not), keeps every raw byte
// (for leak checks), decodes the spans strictly (hex ids, AnyValue attributes, nanosecond times), and
// answers as a collector does: 200 with an empty ExportTraceServiceResponse. Anything it cannot decode is
// answered 400 and kept in `errors`, so a test that expects spans fails on it.
// Knobs: `failWith(status)` answers every request with that status; `requireHeader` answers 401 without it.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: number;
  startMs: number;
  endMs: number;
  attributes: Record<string, AttributeValue>;
  status: { code: number; message?: string };
  resource: Record<string, AttributeValue>;
  scope: string;
}

export interface OtlpReceiver {
  /** The traces URL to configure (`http://127.0.0.1:PORT/v1/traces`). */
  url: string;
  /** The bare `http://127.0.0.1:PORT`. */
  base: string;
  spans: ReceivedSpan[];
  /** Every request body exactly as it arrived (before gunzip). */
  raw: Buffer[];
  requests: Array<{ path: string; headers: IncomingMessage['headers'] }>;
  errors: string[];
  failWith(status: number | null): void;
  requireHeader(name: string, value: string): void;
  /** Resolves with the spans once `ready(spans)` holds; rejects after `timeoutMs`. */
  waitFor(what: string, ready: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

const HEX_TRACE = /^[0-9a-f]{32}$/;
const HEX_SPAN = /^[0-9a-f]{16}$/;

function decodeValue(v: unknown): AttributeValue {
  const value = v as Record<string, unknown>;
  if (typeof value !== 'object' || value === null) throw new Error(`not an AnyValue: ${JSON.stringify(v)}`);
  if ('stringValue' in value) return String(value['stringValue']);
  if ('boolValue' in value) return Boolean(value['boolValue']);
  if ('intValue' in value) return Number(value['intValue']);
  if ('doubleValue' in value) return Number(value['doubleValue']);
  if ('arrayValue' in value) return ((value['arrayValue'] as { values?: unknown[] }).values ?? []).map(decodeValue);
  if ('kvlistValue' in value) return decodeAttributes((value['kvlistValue'] as { values?: unknown[] }).values);
  if ('bytesValue' in value) return Buffer.from(String(value['bytesValue']), 'base64').toString('hex');
  if (Object.keys(value).length === 0) return null;
  throw new Error(`unknown AnyValue ${JSON.stringify(v)}`);
}

function decodeAttributes(list: unknown): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of (list as Array<{ key: string; value: unknown }> | undefined) ?? []) {
    if (typeof kv.key !== 'string') throw new Error(`attribute without a key: ${JSON.stringify(kv)}`);
    out[kv.key] = decodeValue(kv.value);
  }
  return out;
}

const nanosToMs = (n: unknown): number => Number(BigInt(String(n)) / 1_000_000n);

/** Pure: the spans of one ExportTraceServiceRequest in the OTLP/JSON encoding. */
export function decodeTraceRequest(body: unknown): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  const request = body as { resourceSpans?: Array<{ resource?: { attributes?: unknown }; scopeSpans?: Array<{ scope?: { name?: string }; spans?: Array<Record<string, unknown>> }> }> };
  for (const rs of request.resourceSpans ?? []) {
    const resource = decodeAttributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        const parent = s['parentSpanId'];
        if (!HEX_TRACE.test(String(s['traceId']))) throw new Error(`traceId ${JSON.stringify(s['traceId'])} is not 32 hex digits`);
        if (!HEX_SPAN.test(String(s['spanId']))) throw new Error(`spanId ${JSON.stringify(s['spanId'])} is not 16 hex digits`);
        if (parent !== undefined && parent !== '' && !HEX_SPAN.test(String(parent))) throw new Error(`parentSpanId ${JSON.stringify(parent)} is not 16 hex digits`);
        spans.push({
          traceId: String(s['traceId']),
          spanId: String(s['spanId']),
          parentSpanId: parent === undefined || parent === '' ? null : String(parent),
          name: String(s['name']),
          kind: Number(s['kind'] ?? 0),
          startMs: nanosToMs(s['startTimeUnixNano']),
          endMs: nanosToMs(s['endTimeUnixNano']),
          attributes: decodeAttributes(s['attributes']),
          status: (s['status'] as { code: number; message?: string } | undefined) ?? { code: 0 },
          resource,
          scope: ss.scope?.name ?? '',
        });
      }
    }
  }
  return spans;
}

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  let failing: number | null = null;
  let required: [string, string] | null = null;
  const receiver = { spans: [], raw: [], requests: [], errors: [] } as unknown as OtlpReceiver;
  const server = createServer((req, res) => {
    void (async () => {
      const raw = await bodyOf(req);
      receiver.raw.push(raw);
      receiver.requests.push({ path: req.url ?? '', headers: req.headers });
      const answer = (status: number, body: object) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.method !== 'POST' || req.url !== '/v1/traces') return answer(404, { code: 5, message: 'only POST /v1/traces' });
      if (required && req.headers[required[0]] !== required[1]) return answer(401, { code: 16, message: 'unauthenticated' });
      if (failing !== null) return answer(failing, { code: 14, message: 'told to fail' });
      if (!String(req.headers['content-type']).startsWith('application/json')) return answer(415, { code: 3, message: 'this receiver takes the JSON encoding' });
      try {
        const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        receiver.spans.push(...decodeTraceRequest(JSON.parse(text)));
        answer(200, {});
      } catch (err) {
        receiver.errors.push((err as Error).message);
        answer(400, { code: 3, message: (err as Error).message });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  receiver.base = `http://127.0.0.1:${port}`;
  receiver.url = `${receiver.base}/v1/traces`;
  receiver.failWith = (status) => void (failing = status);
  receiver.requireHeader = (name, value) => void (required = [name.toLowerCase(), value]);
  receiver.waitFor = async (what, ready, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!ready(receiver.spans)) {
      if (receiver.errors.length > 0) throw new Error(`the receiver could not decode a request: ${receiver.errors[0]}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received ${receiver.spans.length} span(s): ${receiver.spans.map((s) => s.name).join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return receiver.spans;
  };
  receiver.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return receiver;
}
