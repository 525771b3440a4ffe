/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
 * shape and byte range, then the raw little-endian data. Reading checks every length and offset before it
 * allocates or slices anything, so a malformed file gives one clear error and nothing else.
 *
 * @module
 */
import { elementCount } from "../backends/backend.ts";

/** Element types this reader and writer support. */
export type Dtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

const BYTES: Record<Dtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** One tensor of a file: floats arrive as `Float32Array` (widened or narrowed), integers as `Int32Array`. */
export interface StoredTensor {
  /** The element type in the file. */
  readonly dtype: Dtype;
  /** Sizes of the axes. */
  readonly shape: readonly number[];
  /** The values, row-major. */
  readonly data: Float32Array | Int32Array | Uint8Array;
}

/** The tensors of a file by name, and its `__metadata__` strings. */
export interface Safetensors {
  /** Every tensor, by name. */
  readonly tensors: Map<string, StoredTensor>;
  /** The `__metadata__` strings (empty when the file has none). */
  readonly metadata: Record<string, string>;
}

/** Header lengths above this are refused before anything is allocated (the reference implementation's limit). */
const MAX_HEADER = 100_000_000;

function fail(source: string, why: string): never {
  throw new Error(`safetensors ${source}: ${why}`);
}

function decodeF16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function decode(dtype: Dtype, bytes: Uint8Array, count: number): Float32Array | Int32Array | Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "F32": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    }
    case "F64": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    }
    case "F16": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = decodeF16(view.getUint16(i * 2, true));
      return out;
    }
    case "BF16": {
      const out = new Float32Array(count);
      const word = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < count; i++) {
        word.setUint32(0, view.getUint16(i * 2, true) << 16, true);
        out[i] = word.getFloat32(0, true);
      }
      return out;
    }
    case "I64": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      return out;
    }
    case "I32": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
      return out;
    }
    case "I16": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(i * 2, true);
      return out;
    }
    case "I8": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      return out;
    }
    case "U8":
    case "BOOL":
      return bytes.slice();
  }
}

/**
 * Parses a safetensors file held in memory. `source` names it in errors (a path).
 *
 * @example
 * ```ts
 * const { tensors, metadata } = parseSafetensors(await Deno.readFile("model.safetensors"), "model.safetensors");
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, source = "input"): Safetensors {
  if (bytes.length < 8) fail(source, `file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8)) {
    fail(
      source,
      `header length ${headerLength} runs past the end of the ${bytes.length}-byte file (truncated or not safetensors)`,
    );
  }
  if (headerLength > BigInt(MAX_HEADER)) {
    fail(source, `header length ${headerLength} exceeds the ${MAX_HEADER}-byte limit`);
  }
  const n = Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(source, `header is not valid UTF-8 JSON (${e instanceof Error ? e.message : e})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    fail(source, "header is not a JSON object");
  }
  const data = bytes.subarray(8 + n);
  const metaEntries: [string, string][] = [];
  const entries: { name: string; dtype: Dtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        fail(source, "__metadata__ is not an object");
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") fail(source, `__metadata__.${k} is not a string`);
        metaEntries.push([k, v]);
      }
      continue;
    }
    const e = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== "object") fail(source, `entry ${name} is not an object`);
    // Object.hasOwn, not `in`: a dtype such as "toString" or "__proto__" must not find Object.prototype.
    if (typeof e.dtype !== "string" || !Object.hasOwn(BYTES, e.dtype)) {
      fail(
        source,
        `tensor ${name} has unknown dtype ${JSON.stringify(e.dtype)} (supported: ${Object.keys(BYTES).join(", ")})`,
      );
    }
    const dtype = e.dtype as Dtype;
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(source, `tensor ${name} has an invalid shape ${JSON.stringify(shape)}`);
    }
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(source, `tensor ${name} has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end || end > data.length) {
      fail(source, `tensor ${name} has data_offsets [${begin}, ${end}] outside the ${data.length}-byte data section`);
    }
    const count = elementCount(shape as number[]);
    if (count * BYTES[dtype] !== end - begin) {
      fail(
        source,
        `tensor ${name}: shape [${shape}] of ${dtype} needs ${count * BYTES[dtype]} bytes but its offsets span ${
          end - begin
        }`,
      );
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of sorted) {
    if (e.begin < expected) {
      fail(source, `tensor ${e.name} overlaps the tensor before it (offset ${e.begin} < ${expected})`);
    }
    if (e.begin > expected) fail(source, `bytes ${expected}..${e.begin} of the data section belong to no tensor`);
    expected = e.end;
  }
  if (expected !== data.length) {
    fail(source, `the data section has ${data.length - expected} trailing bytes that belong to no tensor`);
  }
  // fromEntries defines own properties, so a key such as "__proto__" stays an ordinary key.
  const metadata: Record<string, string> = Object.fromEntries(metaEntries);
  const tensors = new Map<string, StoredTensor>();
  for (const e of entries) {
    const count = elementCount(e.shape);
    tensors.set(e.name, {
      dtype: e.dtype,
      shape: e.shape,
      data: decode(e.dtype, data.subarray(e.begin, e.end), count),
    });
  }
  return { tensors, metadata };
}

/** A tensor to write: float32 data is stored as F32, int32 as I32, bytes as U8. */
export interface TensorToWrite {
  /** Sizes of the axes; their product is `data.length`. */
  readonly shape: readonly number[];
  /** The values, row-major. */
  readonly data: Float32Array | Int32Array | Uint8Array;
}

/**
 * Serialises tensors (in the given order) and optional metadata to safetensors bytes.
 *
 * @example
 * ```ts
 * const bytes = serializeSafetensors({ "fc.weight": { shape: [2, 3], data: new Float32Array(6) } }, { epoch: "3" });
 * ```
 */
export function serializeSafetensors(
  tensors: Readonly<Record<string, TensorToWrite>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const entries: [string, unknown][] = [];
  if (metadata && Object.keys(metadata).length) entries.push(["__metadata__", metadata]);
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === "__metadata__") {
      throw new RangeError(
        `serializeSafetensors: "__metadata__" is the header's metadata key; it cannot name a tensor`,
      );
    }
    const count = elementCount(t.shape);
    if (count !== t.data.length) {
      throw new RangeError(`serializeSafetensors: ${name} has ${t.data.length} values but shape [${t.shape}]`);
    }
    const dtype = t.data instanceof Float32Array ? "F32" : t.data instanceof Int32Array ? "I32" : "U8";
    entries.push([name, { dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] }]);
    offset += t.data.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(Object.fromEntries(entries)));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of Object.values(tensors)) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (t.data instanceof Uint8Array) out.set(bytes, at);
    else {
      // Little-endian regardless of the host.
      const dv = new DataView(out.buffer, at, t.data.byteLength);
      if (t.data instanceof Float32Array) t.data.forEach((v, i) => dv.setFloat32(i * 4, v, true));
      else t.data.forEach((v, i) => dv.setInt32(i * 4, v, true));
    }
    at += t.data.byteLength;
  }
  return out;
}
