// The metrics listener: GET /metrics in the Prometheus text format, nothing else. Loopback only unless
// the config allows another address; the check is made again here, on the address actually bound.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { AirlockError } from '../errors.ts';
import { isLoopbackHost, parseListen } from './config.ts';

export interface MetricsServerOptions {
  listen: string;
  allowNonLoopback: boolean;
  registry: Registry;
  /** Read the figures that are looked up rather than counted (queue depth, …) before each scrape. */
  refresh?(): Promise<void>;
  onError?(err: unknown): void;
}

export interface MetricsServer {
  /** The address bound ("127.0.0.1:9464"; the port is the real one when 0 was asked for). */
  address: string;
  close(): Promise<void>;
}

export async function serveMetrics(options: MetricsServerOptions): Promise<MetricsServer> {
  const target = parseListen(options.listen);
  if (!target) throw new AirlockError('airlock:metrics-listen', `metrics.listen "${options.listen}" is not "host:port"`, { hint: 'Use e.g. "127.0.0.1:9464".' });
  if (!options.allowNonLoopback && !isLoopbackHost(target.host)) {
    throw new AirlockError('airlock:metrics-listen', `metrics.listen "${options.listen}" is not a loopback address`, { hint: 'Bind 127.0.0.1 or [::1], or set `metrics.allowNonLoopback: true` on purpose.' });
  }
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    void (async () => {
      try {
        await options.refresh?.();
      } catch (err) {
        options.onError?.(err); // the counted figures are still worth serving
      }
      const body = await options.registry.metrics();
      res.writeHead(200, { 'content-type': options.registry.contentType }).end(body);
    })().catch((err: unknown) => {
      options.onError?.(err);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('metrics unavailable\n');
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new AirlockError('airlock:metrics-listen', `cannot listen on ${options.listen}: ${err.message}`, { cause: err, hint: 'Pick a free port in `metrics.listen`, or stop what holds it.' })));
    server.listen({ host: target.host, port: target.port }, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    address: bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`,
    close: () => closeServer(server),
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
