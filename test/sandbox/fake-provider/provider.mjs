#!/usr/bin/env node
// A minimal Terraform provider for the provider-mirror tests: it speaks the go-plugin handshake and
// tfplugin6 over gRPC (HTTP/2 over TLS on a Unix socket, with node:http2; go-plugin insists on its
// automatic mTLS, so the package carries a self-signed certificate made when it was built, and the
// handshake line hands it to terraform), and offers an empty schema:
// no resources, no data sources. Terraform can install it, load its schema, plan and apply configurations
// that require it, which is all the mirror tests need of a provider. Other RPCs answer `unimplemented`
// (go-plugin's broker and stdio, GetMetadata), or an empty success (tfplugin6 validation, configure,
// stop, and go-plugin's Shutdown, after which it exits).
import http2 from 'node:http2';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// GetProviderSchema.Response { provider: Schema { block: Block {} } }: field 1 (LEN) holding field 2 (LEN 0).
const SCHEMA = Buffer.from([0x0a, 0x02, 0x12, 0x00]);
const EMPTY_OK = new Set(['ValidateProviderConfig', 'ConfigureProvider', 'StopProvider']);

function frame(payload) {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

const socket = join(mkdtempSync(join(tmpdir(), 'fake-provider-')), 'plugin.sock');
const here = (name) => new URL(name, import.meta.url);
const [key, cert] = [readFileSync(here('key.pem')), readFileSync(here('cert.pem'))];
const certDer = new X509Certificate(cert).raw.toString('base64').replace(/=+$/, '');
const server = http2.createSecureServer({ key, cert });
server.on('stream', (stream, headers) => {
  const [service, method] = String(headers[':path']).slice(1).split('/');
  stream.on('error', () => undefined);
  stream.resume();
  const shutdown = service === 'plugin.GRPCController' && method === 'Shutdown';
  const reply = service === 'tfplugin6.Provider' && method === 'GetProviderSchema' ? SCHEMA : (service === 'tfplugin6.Provider' && EMPTY_OK.has(method)) || shutdown ? Buffer.alloc(0) : null;
  if (shutdown) stream.on('close', () => process.exit(0));
  if (reply === null) {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': `${method} is not implemented by the Airlock test provider` }, { endStream: true });
    return;
  }
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(frame(reply));
});
server.listen(socket, () => process.stdout.write(`1|6|unix|${socket}|grpc|${certDer}\n`));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
