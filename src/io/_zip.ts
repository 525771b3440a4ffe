/**
 * Reading the entries of a zip archive held in memory (PyTorch's checkpoint container). The directory is parsed
 * here, with every offset and size checked against the archive before anything is sliced or allocated; deflated
 * entries are inflated by fflate; every entry's CRC-32 is checked. Zip64 is read; encryption and multi-disk
 * archives are refused.
 *
 * @module
 */
// The full specifier (pinned as in deno.json): mod.ts must load from a script outside this project, where
// deno.json's import map does not apply (tests/permissions_test.ts).
// deno-lint-ignore no-import-prefix
import { inflateSync } from "npm:fflate@0.8.2";

/** One file of the archive, as its central directory describes it. */
export interface ZipEntry {
  /** The path inside the archive. */
  readonly name: string;
  /** 0: stored, 8: deflated. */
  readonly method: number;
  /** CRC-32 of the uncompressed bytes. */
  readonly crc: number;
  /** Bytes in the archive. */
  readonly compressedSize: number;
  /** Bytes once uncompressed. */
  readonly size: number;
  /** Where the entry's data starts in the archive. */
  readonly dataStart: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** Deflate cannot expand data by more than about 1032:1; a larger claimed size is a corrupt header. */
const MAX_DEFLATE_RATIO = 1032;

/** Whether `bytes` starts like a zip archive: a local file header, or the end record of an empty archive. */
export function isZip(bytes: Uint8Array): boolean {
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) return false;
  return (bytes[2] === 3 && bytes[3] === 4) || (bytes[2] === 5 && bytes[3] === 6);
}

/** The archive's entries by name. `fail` throws an error that names the file. */
export function readZipDirectory(bytes: Uint8Array, fail: (why: string) => never): Map<string, ZipEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let p = bytes.length - 22; p >= Math.max(0, bytes.length - 22 - 0xffff); p--) {
    if (view.getUint32(p, true) === EOCD) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) fail("zip archive has no end-of-central-directory record (truncated?)");
  if (view.getUint16(eocd + 4, true) !== 0 || view.getUint16(eocd + 6, true) !== 0) {
    fail("zip archive spans several disks");
  }
  let count = view.getUint16(eocd + 10, true);
  let size = view.getUint32(eocd + 12, true);
  let offset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    const locator = eocd - 20;
    if (locator < 0 || view.getUint32(locator, true) !== ZIP64_LOCATOR) fail("zip64 archive without its locator");
    const at = bigOffset(view.getBigUint64(locator + 8, true), 56, bytes.length, "zip64 record", fail);
    if (view.getUint32(at, true) !== ZIP64_EOCD) fail(`no zip64 end-of-central-directory record at ${at}`);
    count = bigOffset(view.getBigUint64(at + 32, true), 0, bytes.length, "entry count", fail);
    size = bigOffset(view.getBigUint64(at + 40, true), 0, bytes.length, "directory size", fail);
    offset = bigOffset(view.getBigUint64(at + 48, true), 0, bytes.length, "directory offset", fail);
  }
  if (offset + size > eocd) fail(`the central directory (${size} bytes at ${offset}) overlaps its end record`);
  if (count * 46 > size) fail(`${count} entries cannot fit a ${size}-byte central directory`);
  const entries = new Map<string, ZipEntry>();
  const names = new TextDecoder();
  let p = offset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > offset + size || view.getUint32(p, true) !== CENTRAL) fail(`central directory entry ${i} is corrupt`);
    const flags = view.getUint16(p + 8, true);
    if (flags & 1) fail(`entry ${i} is encrypted`);
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const next = p + 46 + nameLength + extraLength + view.getUint16(p + 32, true);
    if (next > offset + size) fail(`central directory entry ${i} runs past the directory`);
    const name = names.decode(bytes.subarray(p + 46, p + 46 + nameLength));
    let compressedSize = view.getUint32(p + 20, true);
    let uncompressed = view.getUint32(p + 24, true);
    let local = view.getUint32(p + 42, true);
    // Zip64 sizes and offset sit in extra field 0x0001, in this order, for the fields saturated at 0xffffffff.
    for (let e = p + 46 + nameLength; e + 4 <= p + 46 + nameLength + extraLength;) {
      const id = view.getUint16(e, true);
      const length = view.getUint16(e + 2, true);
      const end = e + 4 + length;
      if (end > p + 46 + nameLength + extraLength) fail(`entry ${name}: its extra field is corrupt`);
      if (id === 1) {
        let q = e + 4;
        const next64 = (what: string): number => {
          if (q + 8 > end) fail(`entry ${name}: its zip64 field lacks the ${what}`);
          const v = bigOffset(view.getBigUint64(q, true), 0, bytes.length * MAX_DEFLATE_RATIO, what, fail);
          q += 8;
          return v;
        };
        if (uncompressed === 0xffffffff) uncompressed = next64("size");
        if (compressedSize === 0xffffffff) compressedSize = next64("compressed size");
        if (local === 0xffffffff) local = next64("header offset");
      }
      e = end;
    }
    if (local + 30 > offset || view.getUint32(local, true) !== LOCAL) {
      fail(`entry ${name}: no local header at offset ${local}`);
    }
    const dataStart = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (dataStart + compressedSize > offset) {
      fail(`entry ${name}: its ${compressedSize} bytes at ${dataStart} run past the entries (truncated?)`);
    }
    if (entries.has(name)) fail(`entry ${name} appears twice`);
    entries.set(name, {
      name,
      method: view.getUint16(p + 10, true),
      crc: view.getUint32(p + 16, true),
      compressedSize,
      size: uncompressed,
      dataStart,
    });
    p = next;
  }
  return entries;
}

/**
 * The uncompressed bytes of `entry` (a view into `bytes` when stored). Refuses an entry larger than `maxSize`
 * before allocating, and one whose CRC-32 does not match.
 */
export function readZipEntry(
  bytes: Uint8Array,
  entry: ZipEntry,
  maxSize: number,
  fail: (why: string) => never,
): Uint8Array {
  const raw = bytes.subarray(entry.dataStart, entry.dataStart + entry.compressedSize);
  let data: Uint8Array;
  if (entry.method === 0) {
    if (entry.size !== entry.compressedSize) {
      fail(`entry ${entry.name} is stored but claims ${entry.size} bytes in ${entry.compressedSize}`);
    }
    data = raw;
  } else if (entry.method === 8) {
    if (entry.size > maxSize || entry.size > MAX_DEFLATE_RATIO * entry.compressedSize + 1024) {
      fail(`entry ${entry.name} claims ${entry.size} bytes from ${entry.compressedSize} compressed (corrupt)`);
    }
    try {
      data = inflateSync(raw, { out: new Uint8Array(entry.size) });
    } catch (e) {
      fail(`entry ${entry.name}: corrupt deflate data (${e instanceof Error ? e.message : e})`);
    }
    if (data!.length !== entry.size) {
      fail(`entry ${entry.name} inflates to ${data!.length} bytes, not the ${entry.size} its header claims`);
    }
  } else {
    fail(`entry ${entry.name} uses compression method ${entry.method} (only stored and deflate are read)`);
  }
  const crc = crc32(data!);
  if (crc !== entry.crc) {
    fail(`entry ${entry.name} is corrupt: CRC-32 ${hex(crc)}, the directory says ${hex(entry.crc)}`);
  }
  return data!;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

/** A 64-bit offset or count from the file, as a number no larger than `limit − room`. */
function bigOffset(v: bigint, room: number, limit: number, what: string, fail: (why: string) => never): number {
  if (v > BigInt(Math.max(0, limit - room))) fail(`zip64 ${what} ${v} lies beyond the ${limit}-byte archive`);
  return Number(v);
}

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** The CRC-32 (ISO-HDLC, zip's) of `data`. */
export function crc32(data: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
