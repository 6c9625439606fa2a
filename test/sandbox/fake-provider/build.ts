// Building an "origin" provider registry on disk for the mirror tests: each test provider is packaged as
// a real provider release is (a zip holding `terraform-provider-NAME_vVERSION`, here a launcher for
// provider.mjs with its certificate), laid out as a packed filesystem mirror
// (registry.terraform.io/NS/NAME/terraform-provider-NAME_VERSION_OS_ARCH.zip), with the h1: and zh:
// hashes terraform computes, so the tests can check what terraform verified and recorded.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const PROVIDER = fileURLToPath(new URL('./provider.mjs', import.meta.url));

export const PLATFORM = `linux_${process.arch === 'x64' ? 'amd64' : process.arch}`;

export interface FakePackage {
  source: string;
  version: string;
  /** terraform's dirhash of the unpacked package. */
  h1: string;
  /** sha256 of the zip. */
  zh: string;
}

type Entry = { name: string; data: Buffer; mode: number };

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A stored (uncompressed) zip with Unix modes, as provider releases carry the executable bit. */
export function zipOf(entries: Entry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix: the external attributes carry the mode
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((0o100000 | e.mode) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, e.data);
    centrals.push(central, name);
    offset += 30 + name.length + e.data.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

/** terraform's `h1:` hash (Go's dirhash Hash1) of a package's files. */
export function h1Of(entries: Entry[]): string {
  const summary = [...entries]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((e) => `${createHash('sha256').update(e.data).digest('hex')}  ${e.name}\n`)
    .join('');
  return `h1:${createHash('sha256').update(summary).digest('base64')}`;
}

/** A self-signed certificate for the provider's TLS (go-plugin's automatic mTLS needs one). */
async function certificate(): Promise<{ cert: Buffer; key: Buffer }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-fake-cert-'));
  try {
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-days', '3650', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')]);
    return { cert: await readFile(path.join(dir, 'cert.pem')), key: await readFile(path.join(dir, 'key.pem')) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Write a packed filesystem mirror at `origin` holding each `namespace/name` at `version`. */
export async function buildOrigin(origin: string, providers: Array<{ namespace: string; name: string; version: string }>): Promise<FakePackage[]> {
  const { cert, key } = await certificate();
  const code = await readFile(PROVIDER);
  const out: FakePackage[] = [];
  for (const p of providers) {
    const entries: Entry[] = [
      { name: `terraform-provider-${p.name}_v${p.version}`, data: Buffer.from('#!/bin/sh\nexec node "$(dirname "$0")/provider.mjs" "$@"\n'), mode: 0o755 },
      { name: 'provider.mjs', data: code, mode: 0o644 },
      { name: 'cert.pem', data: cert, mode: 0o644 },
      { name: 'key.pem', data: key, mode: 0o644 },
    ];
    const zip = zipOf(entries);
    const dir = path.join(origin, 'registry.terraform.io', p.namespace, p.name);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, `terraform-provider-${p.name}_${p.version}_${PLATFORM}.zip`), zip);
    out.push({ source: `registry.terraform.io/${p.namespace}/${p.name}`, version: p.version, h1: h1Of(entries), zh: `zh:${createHash('sha256').update(zip).digest('hex')}` });
  }
  return out;
}

