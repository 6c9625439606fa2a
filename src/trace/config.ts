// The `traces` section of the runner config: OpenTelemetry traces sent over OTLP/HTTP, off unless
// `otlp.endpoint` is set. Header values that are credentials come from files, never from the YAML.
import { z } from 'zod';
import { duration } from '../lib/zod-units.ts';
import { isLoopbackHost } from '../metrics/config.ts';

/** Header names that carry a credential: their value must come from a file. */
const CREDENTIAL_HEADER = /authorization|token|key|secret|password|cookie|credential|auth/i;

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;

const oneLine = (max: number) =>
  z
    .string()
    .max(max)
    .refine((v) => !/[\r\n\0]/.test(v), 'must be one line');

/** A header value: plain text, or the contents of a file only the runner user can read (with a prefix, e.g. "Bearer "). */
const headerValue = z.union([oneLine(1024), z.object({ file: z.string().min(1, 'must be the path of a file holding the value'), prefix: oneLine(64).default('') }).strict()]);

/** The OTLP/HTTP traces URL: a bare `http(s)://host:port` gets the standard `/v1/traces` path. */
export function tracesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.pathname === '' || url.pathname === '/') url.pathname = '/v1/traces';
  return url.toString();
}

const endpoint = z.string().superRefine((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: `must be the OTLP/HTTP traces URL of a collector, like "http://127.0.0.1:4318/v1/traces", got ${JSON.stringify(text.slice(0, 100))}` });
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `must be an http:// or https:// URL, got ${JSON.stringify(url.protocol)}` });
  if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'must not hold credentials: put them in `headers`, read from a file (`authorization: { file: /etc/airlock/otlp-token, prefix: "Bearer " }`)' });
  if (url.search || url.hash) ctx.addIssue({ code: 'custom', message: 'must have no query or fragment' });
});

export const otlpSchema = z
  .object({
    /** Where spans are POSTed (OTLP/HTTP, JSON encoding). A bare `http(s)://host:port` gets `/v1/traces`. */
    endpoint,
    /** Extra request headers; a credential's value must be `{ file, prefix? }`. */
    headers: z.record(z.string(), headerValue).default({}),
    /** How long one export may take, retries included. */
    timeout: duration('10s').prefault('10s'),
    /** Send spans in clear over plain http:// to a host other than this one. */
    allowPlainHttp: z.boolean().default(false),
  })
  .strict()
  .superRefine((otlp, ctx) => {
    for (const [name, value] of Object.entries(otlp.headers)) {
      const message = !HEADER_NAME.test(name)
        ? 'must be under an HTTP header name (letters, digits and !#$%&\'*+.^_`|~-)'
        : typeof value === 'string' && CREDENTIAL_HEADER.test(name)
          ? `must not be written here, it looks like a credential: read it from a file only the runner user can read, like \`${name}: { file: /etc/airlock/otlp-token, prefix: "Bearer " }\``
          : null;
      if (message) ctx.addIssue({ code: 'custom', path: ['headers', name], params: { secret: true }, message });
    }
    const url = URL.canParse(otlp.endpoint) ? new URL(otlp.endpoint) : null;
    if (url?.protocol === 'http:' && !otlp.allowPlainHttp && !isLoopbackHost(url.hostname.replace(/^\[|\]$/g, ''))) {
      ctx.addIssue({
        code: 'custom',
        path: ['endpoint'],
        message: `"${otlp.endpoint}" sends spans (repos, agents, approvers' identity kinds) and headers in clear to another host: use https://, a collector on this host (127.0.0.1), or \`traces.otlp.allowPlainHttp: true\``,
      });
    }
  });

export const tracesSchema = z
  .object({
    /** The OTLP/HTTP collector. Absent: no traces, and no OpenTelemetry module is loaded (the default). */
    otlp: otlpSchema.optional(),
    /** How long finished spans wait to be sent together. */
    exportDelay: duration('5s').prefault('5s'),
    /** `service.name` of the spans. */
    serviceName: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'must be letters, digits, ".", "_" or "-"')
      .default('airlock'),
  })
  .strict()
  .prefault({});

export type TracesConfig = z.output<typeof tracesSchema>;
export type OtlpConfig = z.output<typeof otlpSchema>;
