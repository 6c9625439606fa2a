// Reading one small entry out of a zip file (a terraform/tofu plan file is a zip holding tfplan,
// tfstate, tfconfig/ and `.terraform.lock.hcl`). Only what the apply needs: the central directory,
// stored or deflated entries, zip64 offsets; nothing is extracted to disk.
import { open, type FileHandle } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const MAX_COMMENT = 0xffff;

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

/** Where the central directory starts and how long it is, read from the file's tail; null: not a zip. */
async function centralDirectory(handle: FileHandle, fileSize: number): Promise<{ offset: number; size: number } | null> {
  const tailStart = Math.max(0, fileSize - (MAX_COMMENT + 22 + 20));
  const tail = await readAt(handle, tailStart, fileSize - tailStart);
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) !== EOCD_SIG) continue;
    const size = tail.readUInt32LE(i + 12);
    const offset = tail.readUInt32LE(i + 16);
    if (offset !== 0xffffffff && size !== 0xffffffff) return { offset, size };
    const locator = i - 20;
    if (locator < 0 || tail.readUInt32LE(locator) !== ZIP64_LOCATOR_SIG) return null;
    const record = await readAt(handle, Number(tail.readBigUInt64LE(locator + 8)), 56);
    return record.length < 56 ? null : { size: Number(record.readBigUInt64LE(40)), offset: Number(record.readBigUInt64LE(48)) };
  }
  return null;
}

/** The bytes of entry `name` in zip `file` (at most `maxBytes`), or null when the file has no such entry or is no zip. */
export async function readZipEntry(file: string, name: string, maxBytes = 1024 * 1024): Promise<Buffer | null> {
  const handle = await open(file, 'r');
  try {
    const { size: fileSize } = await handle.stat();
    const dir = await centralDirectory(handle, fileSize);
    if (!dir || dir.offset + dir.size > fileSize) return null;
    const central = await readAt(handle, dir.offset, dir.size);
    for (let p = 0; p + 46 <= central.length && central.readUInt32LE(p) === CENTRAL_SIG; ) {
      const method = central.readUInt16LE(p + 10);
      let compressed = central.readUInt32LE(p + 20);
      let uncompressed = central.readUInt32LE(p + 24);
      const nameLength = central.readUInt16LE(p + 28);
      const extraLength = central.readUInt16LE(p + 30);
      const commentLength = central.readUInt16LE(p + 32);
      let localOffset = central.readUInt32LE(p + 42);
      const entryName = central.toString('utf8', p + 46, p + 46 + nameLength);
      if (entryName === name) {
        ({ compressed, uncompressed, localOffset } = applyZip64Extra(central.subarray(p + 46 + nameLength, p + 46 + nameLength + extraLength), { compressed, uncompressed, localOffset }));
        if (uncompressed > maxBytes || compressed > maxBytes * 2 + 1024) throw new Error(`zip entry ${name} is larger than ${maxBytes} bytes`);
        const local = await readAt(handle, localOffset, 30);
        if (local.length < 30 || local.readUInt32LE(0) !== LOCAL_SIG) return null;
        const dataStart = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
        const data = await readAt(handle, dataStart, compressed);
        if (method === 0) return data;
        if (method === 8) return inflateRawSync(data, { maxOutputLength: maxBytes });
        throw new Error(`zip entry ${name} uses compression method ${method}`);
      }
      p += 46 + nameLength + extraLength + commentLength;
    }
    return null;
  } finally {
    await handle.close();
  }
}

type Sizes = { compressed: number; uncompressed: number; localOffset: number };

/** Pure: replace 0xffffffff sizes/offset with the zip64 extra field's values, in the order zip64 lists them. */
export function applyZip64Extra(extra: Buffer, sizes: Sizes): Sizes {
  const out = { ...sizes };
  for (let p = 0; p + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(p);
    const length = extra.readUInt16LE(p + 2);
    if (id === 0x0001) {
      let q = p + 4;
      for (const key of ['uncompressed', 'compressed', 'localOffset'] as const) {
        if (out[key] === 0xffffffff && q + 8 <= p + 4 + length) {
          out[key] = Number(extra.readBigUInt64LE(q));
          q += 8;
        }
      }
    }
    p += 4 + length;
  }
  return out;
}
