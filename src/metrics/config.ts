// The `metrics` section of the runner config: an optional Prometheus listener, off unless `listen` is set.
// It binds loopback only; another address must be allowed in so many words (`allowNonLoopback: true`).
import { isIP } from 'node:net';
import { z } from 'zod';

export const DEFAULT_METRICS_LISTEN = '127.0.0.1:9464';

/** `host:port` or `[v6]:port` → its parts, or null when it is not that shape. */
export function parseListen(listen: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(listen);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null; // 0: any free port (tests)
  return { host: (m[1] ?? m[2])!, port };
}

/** Whether `host` can only be reached from this machine: 127.0.0.0/8, ::1 or `localhost`. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^(0{0,4}:){1,7}0{0,3}1$/.test(host) || host.toLowerCase() === '::ffff:127.0.0.1';
  return false;
}

export const metricsSchema = z
  .object({
    /** Where `/metrics` is served, e.g. "127.0.0.1:9464". Absent: no listener (the default). */
    listen: z
      .string()
      .refine((s) => parseListen(s) !== null, 'must be "host:port", like "127.0.0.1:9464" (IPv6: "[::1]:9464")')
      .optional(),
    /** Serve on a non-loopback address. The metrics carry no secrets, but they tell who approves what and when. */
    allowNonLoopback: z.boolean().default(false),
  })
  .strict()
  .prefault({})
  .superRefine((m, ctx) => {
    const parsed = m.listen === undefined ? null : parseListen(m.listen);
    if (parsed && !m.allowNonLoopback && !isLoopbackHost(parsed.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['listen'],
        message: `"${m.listen}" is not a loopback address: the metrics listener binds 127.0.0.1 or ::1 unless \`metrics.allowNonLoopback: true\` says otherwise (scrape through a local agent, or an SSH/WireGuard tunnel)`,
      });
    }
  });

export type MetricsConfig = z.output<typeof metricsSchema>;
