/**
 * PyTorch checkpoints (`.pth`, `.pt`) as written by `torch.save`: the zip format (PyTorch ≥ 1.6: `<folder>/data.pkl`
 * and one `<folder>/data/<key>` entry per storage) and the legacy format (a magic number, protocol and system pickles,
 * the object pickle, the storage keys, then each storage behind an 8-byte element count).
 *
 * Nothing in the file is executed. The pickle may name only the globals in {@linkcode ALLOWED_GLOBALS} (tensor
 * rebuild functions, storage types, `OrderedDict`, `torch.Size`, `_codecs.encode`); any other is refused by name.
 * Every length, offset, stride and count is checked against the file before anything is allocated, so a truncated
 * or corrupt file gives one error that names it.
 *
 * @module
 */
import type { Backend } from "../backends/backend.ts";
import { type Tensor, wrap } from "../tensor/tensor.ts";
import { pathError } from "./_path_error.ts";
import { describe, PyDict, PyGlobal, PyList, unpickle } from "./_pickle.ts";
import { isZip, readZipDirectory, readZipEntry, type ZipEntry } from "./_zip.ts";
import type { Dtype, StoredTensor } from "./safetensors.ts";

/** The tensors of a checkpoint by dotted name, and the wrapper key they were found under. */
export interface PthFile {
  /**
   * Every tensor, by name, in the file's order: floats as `Float32Array`, integers as `Int32Array`, uint8 and bool
   * as `Uint8Array`.
   */
  readonly tensors: Map<string, StoredTensor>;
  /** `"state_dict"` or `"params"` when the tensors came from that key of the top-level dict, else undefined. */
  readonly wrapper: "state_dict" | "params" | undefined;
}

/** Element type and byte size of each storage class `torch.save` names. */
const STORAGES: ReadonlyMap<string, readonly [Dtype, number]> = new Map([
  ["torch.FloatStorage", ["F32", 4]],
  ["torch.HalfStorage", ["F16", 2]],
  ["torch.BFloat16Storage", ["BF16", 2]],
  ["torch.DoubleStorage", ["F64", 8]],
  ["torch.LongStorage", ["I64", 8]],
  ["torch.IntStorage", ["I32", 4]],
  ["torch.ShortStorage", ["I16", 2]],
  ["torch.CharStorage", ["I8", 1]],
  ["torch.ByteStorage", ["U8", 1]],
  ["torch.BoolStorage", ["BOOL", 1]],
]);

/** A storage named by a persistent id; its bytes are found later, by key. */
class StorageRef {
  constructor(readonly key: string, readonly dtype: Dtype, readonly itemSize: number, readonly numel: number) {}
}

/** A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage. */
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly strides: readonly number[],
  ) {}
}

/** The magic number that starts a legacy-format file. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;
/** Ranks above this are refused (PyTorch allows 64). */
const MAX_RANK = 64;
/** Nested dicts deeper than this are refused rather than walked. */
const MAX_DEPTH = 100;

/** The most bytes of output (and of inflated entries) a file of `n` bytes may produce. */
function outputLimit(n: number): number {
  return 8 * n + (1 << 24);
}

/**
 * Parses a checkpoint written by `torch.save` held in memory into host arrays; `source` names it in errors.
 *
 * The top-level object must be a dict. When it has a `state_dict` key holding a dict, that dict is read, else a
 * `params` key holding a dict (the reference code's export layout), else the whole dict. Nested dicts are
 * flattened with dotted names (`{"layer1": {"0.conv1.weight": t}}` gives `layer1.0.conv1.weight`); values that are
 * neither tensors nor dicts (numbers, strings, lists) are left out. Non-contiguous views are copied to row-major
 * order; tensors that share a storage each get their own copy. Float tensors of every width are returned as
 * `Float32Array` (float64 rounded to nearest), integer tensors as `Int32Array` (an int64 value outside int32 is an
 * error naming the tensor), uint8 and bool as `Uint8Array`; `dtype` keeps the type in the file.
 *
 * @example
 * ```ts
 * const { tensors } = parsePth(await Deno.readFile("resnet18.pth"), "resnet18.pth");
 * console.log(tensors.get("conv1.weight")?.shape); // [64, 3, 7, 7]
 * ```
 */
export function parsePth(bytes: Uint8Array, source = "input"): PthFile {
  const fail = (why: string): never => {
    throw new Error(`pth ${source}: ${why}`);
  };
  const { root, storageBytes, littleEndian } = isZip(bytes) ? readZipFormat(bytes, fail) : readLegacy(bytes, fail);
  if (!(root instanceof PyDict)) {
    fail(`the file holds a ${describe(root)}, not a dict of tensors (save a state_dict)`);
  }
  let top = root as PyDict;
  let wrapper: PthFile["wrapper"];
  for (const key of ["state_dict", "params"] as const) {
    const inner = top.entries.get(key);
    if (inner instanceof PyDict) {
      top = inner;
      wrapper = key;
      break;
    }
  }
  // Output is bounded by the file: views may repeat a storage, but not without limit.
  let budget = outputLimit(bytes.length);
  const tensors = new Map<string, StoredTensor>();
  const walk = (dict: PyDict, prefix: string, ancestors: Set<PyDict>): void => {
    ancestors.add(dict);
    for (const [key, value] of dict.entries) {
      if (!(value instanceof TensorRef) && !(value instanceof PyDict)) continue;
      const name = prefix + keyName(key, prefix, fail);
      if (value instanceof PyDict) {
        if (ancestors.has(value)) fail(`the dict ${name} contains itself`);
        if (ancestors.size >= MAX_DEPTH) fail(`dicts nest deeper than ${MAX_DEPTH} levels at ${name}`);
        walk(value, `${name}.`, ancestors);
        continue;
      }
      if (tensors.has(name)) fail(`two tensors are named ${name}`);
      const count = elementCount(value, name, fail);
      const outBytes = count * (value.storage.dtype === "U8" || value.storage.dtype === "BOOL" ? 1 : 4);
      if (outBytes > budget) {
        fail(
          `tensor ${name} of shape [${value.shape}] would take the output past ${outputLimit(bytes.length)} bytes ` +
            `(8 times the ${bytes.length}-byte file, plus 16 MiB): corrupt, or views that repeat a storage`,
        );
      }
      budget -= outBytes;
      const data = storageBytes(value.storage);
      tensors.set(name, {
        dtype: value.storage.dtype,
        shape: value.shape,
        data: gather(value, count, data, littleEndian, name, fail),
      });
    }
    ancestors.delete(dict);
  };
  walk(top, "", new Set());
  return { tensors, wrapper };
}

/** The name a dict key contributes to a dotted name: str as is, int in decimal. */
function keyName(key: unknown, prefix: string, fail: (why: string) => never): string {
  if (typeof key === "string") return key;
  if (typeof key === "bigint" || Number.isSafeInteger(key)) return String(key);
  if (typeof key === "boolean") return key ? "True" : "False";
  return fail(`a tensor or dict under ${prefix || "the top level"} has a key of type ${describe(key)}`);
}

/** What the two formats share after reading: the object, and a way to find each storage's bytes. */
interface Contents {
  readonly root: unknown;
  readonly storageBytes: (storage: StorageRef) => Uint8Array;
  readonly littleEndian: boolean;
}

/** The hooks that make the unpickler read tensors and dicts and refuse everything else. */
function pickleHooks(fail: (why: string) => never, part: string, storages?: Map<string, StorageRef>) {
  return {
    fail: (why: string): never => fail(`${part}: ${why}`),
    findGlobal: (module: string, name: string): PyGlobal => {
      const qualified = `${module}.${name}`;
      const rebuild = REBUILDS.get(qualified);
      if (rebuild) return new PyGlobal(module, name, (args) => rebuild(args, (why) => fail(`${part}: ${why}`)));
      if (STORAGES.has(qualified)) return new PyGlobal(module, name);
      const hint = module.startsWith("torch.nn") || module === "__main__"
        ? "; save model.state_dict() rather than the model"
        : module === "torch" && name.endsWith("Storage")
        ? ` (storage types read: ${[...STORAGES.keys()].join(", ")})`
        : "";
      return fail(`refuses to load global ${qualified}; only tensors and dicts are read${hint}`);
    },
    persistentLoad: (pid: unknown): StorageRef => {
      const f = (why: string): never => fail(`${part}: persistent id: ${why}`);
      if (!Array.isArray(pid) || (pid.length !== 5 && pid.length !== 6) || pid[0] !== "storage") {
        f(`a ${describe(pid)} of ${
          Array.isArray(pid) ? pid.length : 0
        } items, not ('storage', type, key, device, size)`);
      }
      const [, type, key, , numel, view] = pid as unknown[];
      const spec = type instanceof PyGlobal ? STORAGES.get(type.qualifiedName) : undefined;
      if (!spec) f(`storage type ${describe(type)} is not one this reader knows`);
      if (typeof key !== "string") f(`storage key is a ${describe(key)}`);
      if (!Number.isSafeInteger(numel) || (numel as number) < 0) f(`storage ${key} has size ${numel}`);
      if (view !== undefined && view !== null) f(`storage ${key} is a storage view (PyTorch < 1.0), not supported`);
      const ref = new StorageRef(key as string, spec![0], spec![1], numel as number);
      const seen = storages?.get(ref.key);
      if (seen && (seen.dtype !== ref.dtype || seen.numel !== ref.numel)) {
        f(`storage ${key} is named as ${seen.dtype}[${seen.numel}] and as ${ref.dtype}[${ref.numel}]`);
      }
      storages?.set(ref.key, ref);
      return ref;
    },
  };
}

type Rebuild = (args: readonly unknown[], fail: (why: string) => never) => unknown;

/** The callable globals: what each builds from its arguments. */
const REBUILDS: ReadonlyMap<string, Rebuild> = new Map<string, Rebuild>([
  ["collections.OrderedDict", (args, fail) => {
    const dict = new PyDict();
    if (args.length > 1) fail(`OrderedDict takes at most one argument, not ${args.length}`);
    if (args.length === 1) {
      const pairs = args[0] instanceof PyList ? args[0].items : args[0];
      if (!Array.isArray(pairs)) fail(`OrderedDict of a ${describe(args[0])}`);
      for (const pair of pairs as unknown[]) {
        if (!Array.isArray(pair) || pair.length !== 2) fail(`OrderedDict item ${describe(pair)} is not a pair`);
        dict.entries.set((pair as unknown[])[0], (pair as unknown[])[1]);
      }
    }
    return dict;
  }],
  // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  ["torch._utils._rebuild_tensor_v2", (args, fail) => {
    if (args.length !== 6 && args.length !== 7) fail(`_rebuild_tensor_v2 takes 6 or 7 arguments, not ${args.length}`);
    return tensorRef(args, fail);
  }],
  // (storage, storage_offset, size, stride)
  ["torch._utils._rebuild_tensor", (args, fail) => {
    if (args.length !== 4) fail(`_rebuild_tensor takes 4 arguments, not ${args.length}`);
    return tensorRef(args, fail);
  }],
  // (data, requires_grad, backward_hooks[, state])
  ["torch._utils._rebuild_parameter", (args, fail) => parameter(args, 3, fail)],
  ["torch._utils._rebuild_parameter_with_state", (args, fail) => parameter(args, 4, fail)],
  // Protocol 2 writes Python 3 bytes as _codecs.encode(str, "latin1").
  ["_codecs.encode", (args, fail) => {
    const [text, encoding] = args;
    if (args.length !== 2 || typeof text !== "string" || (encoding !== "latin1" && encoding !== "latin-1")) {
      fail(`_codecs.encode(${args.map(describe).join(", ")}) is not the latin1 encoding of bytes`);
    }
    const out = new Uint8Array((text as string).length);
    for (let i = 0; i < out.length; i++) {
      const c = (text as string).charCodeAt(i);
      if (c > 0xff) fail(`_codecs.encode of U+${c.toString(16).toUpperCase()}, not latin1`);
      out[i] = c;
    }
    return out;
  }],
  ["torch.Size", (args, fail) => {
    if (args.length !== 1 || !Array.isArray(args[0])) fail("torch.Size takes one tuple");
    return args[0];
  }],
]);

/**
 * Every global a checkpoint's pickle may name (`module.name`): the tensor rebuild functions, the storage types,
 * `collections.OrderedDict`, `torch.Size` and `_codecs.encode` (how protocol 2 writes bytes). Any other global is
 * refused by name, before anything is called.
 *
 * @example
 * ```ts
 * console.log(ALLOWED_GLOBALS.includes("torch._utils._rebuild_tensor_v2")); // true
 * ```
 */
export const ALLOWED_GLOBALS: readonly string[] = Object.freeze([...REBUILDS.keys(), ...STORAGES.keys()]);

function parameter(args: readonly unknown[], arity: number, fail: (why: string) => never): TensorRef {
  if (args.length !== arity || !(args[0] instanceof TensorRef)) {
    fail(`a parameter needs ${arity} arguments starting with a tensor, not (${args.map(describe).join(", ")})`);
  }
  return args[0] as TensorRef;
}

function tensorRef(args: readonly unknown[], fail: (why: string) => never): TensorRef {
  const [storage, offset, shape, strides] = args;
  if (!(storage instanceof StorageRef)) fail(`a tensor's storage is a ${describe(storage)}`);
  const dims = (what: string, v: unknown): number[] => {
    if (!Array.isArray(v) || v.length > MAX_RANK || !v.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      return fail(`a tensor's ${what} is ${describe(v)} ${Array.isArray(v) ? `(${v.join(", ")})` : ""}`);
    }
    return v as number[];
  };
  const shapeDims = dims("size", shape);
  const strideDims = dims("stride", strides);
  if (shapeDims.length !== strideDims.length) fail(`a tensor has size (${shapeDims}) but stride (${strideDims})`);
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) fail(`a tensor has storage offset ${offset}`);
  return new TensorRef(storage as StorageRef, offset as number, shapeDims, strideDims);
}

/** The tensor's element count, checked: every element it reads lies inside its storage. */
function elementCount(t: TensorRef, name: string, fail: (why: string) => never): number {
  let count = 1;
  let last = t.offset;
  for (let i = 0; i < t.shape.length; i++) {
    count *= t.shape[i];
    last += (t.shape[i] - 1) * t.strides[i];
  }
  if (count === 0) return 0;
  if (!Number.isSafeInteger(count) || last >= t.storage.numel) {
    fail(
      `tensor ${name}: size [${t.shape}], stride [${t.strides}] at offset ${t.offset} reads past its storage ` +
        `${t.storage.key} of ${t.storage.numel} elements`,
    );
  }
  return count;
}

function decodeF16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The tensor's elements in row-major order, copied out of its storage's bytes. */
function gather(
  t: TensorRef,
  count: number,
  bytes: Uint8Array,
  le: boolean,
  name: string,
  fail: (why: string) => never,
): Float32Array | Int32Array | Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { dtype } = t.storage;
  const bf16 = new DataView(new ArrayBuffer(4));
  const read: (i: number) => number = {
    F32: (i: number) => view.getFloat32(i * 4, le),
    F64: (i: number) => view.getFloat64(i * 8, le),
    F16: (i: number) => decodeF16(view.getUint16(i * 2, le)),
    BF16: (i: number) => {
      bf16.setUint32(0, view.getUint16(i * 2, le) << 16);
      return bf16.getFloat32(0);
    },
    I64: (i: number) => {
      const lo = view.getInt32(i * 8 + (le ? 0 : 4), le);
      const hi = view.getInt32(i * 8 + (le ? 4 : 0), le);
      if (hi !== lo >> 31) {
        fail(`tensor ${name}: int64 value ${view.getBigInt64(i * 8, le)} does not fit in int32`);
      }
      return lo;
    },
    I32: (i: number) => view.getInt32(i * 4, le),
    I16: (i: number) => view.getInt16(i * 2, le),
    I8: (i: number) => view.getInt8(i),
    U8: (i: number) => view.getUint8(i),
    BOOL: (i: number) => view.getUint8(i),
  }[dtype];
  const out = dtype === "U8" || dtype === "BOOL"
    ? new Uint8Array(count)
    : dtype[0] === "I"
    ? new Int32Array(count)
    : new Float32Array(count);
  if (count === 0) return out;
  // The elements this view reaches must lie inside the storage's bytes, whatever the header claimed.
  const itemSize = { F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 }[dtype];
  let first = t.offset, last = t.offset;
  t.shape.forEach((d, k) => {
    const reach = (d - 1) * t.strides[k];
    if (reach < 0) first += reach;
    else last += reach;
  });
  if (first < 0 || (last + 1) * itemSize > bytes.byteLength) {
    fail(
      `tensor ${name}: its view reaches elements ${first} to ${last}, beyond its storage of ${bytes.byteLength} bytes`,
    );
  }
  const rank = t.shape.length;
  const index = new Array<number>(rank).fill(0);
  let at = t.offset;
  for (let j = 0; j < count; j++) {
    out[j] = read(at);
    // Odometer over the axes, last fastest: advance one index and carry.
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d] < t.shape[d]) {
        at += t.strides[d];
        break;
      }
      at -= (t.shape[d] - 1) * t.strides[d];
      index[d] = 0;
    }
  }
  return out;
}

/** The zip format: `<folder>/data.pkl`, storages in `<folder>/data/<key>`, optional `<folder>/byteorder`. */
function readZipFormat(bytes: Uint8Array, fail: (why: string) => never): Contents {
  const entries = readZipDirectory(bytes, fail);
  const pickles = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    fail(
      pickles.length
        ? `the archive holds several pickles (${pickles.join(", ")})`
        : "the zip archive has no <folder>/data.pkl: not a checkpoint written by torch.save",
    );
  }
  const folder = pickles[0].slice(0, -"data.pkl".length);
  const maxSize = outputLimit(bytes.length);
  const entryBytes = (entry: ZipEntry) => readZipEntry(bytes, entry, maxSize, fail);
  let littleEndian = true;
  const order = entries.get(`${folder}byteorder`);
  if (order) {
    const text = new TextDecoder().decode(entryBytes(order));
    if (text !== "little" && text !== "big") fail(`${folder}byteorder is ${JSON.stringify(text)}`);
    littleEndian = text === "little";
  }
  const pickle = entryBytes(entries.get(pickles[0])!);
  const { value: root, end } = unpickle(pickle, 0, pickleHooks(fail, pickles[0]));
  if (end !== pickle.length) fail(`${pickles[0]} has ${pickle.length - end} bytes after its STOP`);
  const loaded = new Map<string, Uint8Array>();
  const storageBytes = (s: StorageRef): Uint8Array => {
    const cached = loaded.get(s.key);
    if (cached) return cached;
    const path = `${folder}data/${s.key}`;
    const entry = entries.get(path);
    if (!entry) return fail(`storage ${s.key} has no entry ${path}`);
    if (entry.size !== s.numel * s.itemSize) {
      fail(`${path} has ${entry.size} bytes but storage ${s.key} is ${s.dtype}[${s.numel}]`);
    }
    const data = entryBytes(entry);
    loaded.set(s.key, data);
    return data;
  };
  return { root, storageBytes, littleEndian };
}

/** The legacy format: magic, protocol, system info, the object, the storage keys, then the storages in that order. */
function readLegacy(bytes: Uint8Array, fail: (why: string) => never): Contents {
  if (bytes.length === 0) fail("the file is empty");
  if (bytes[0] !== 0x80) {
    fail(
      `not a PyTorch checkpoint: it starts with 0x${bytes[0].toString(16).padStart(2, "0")}, ` +
        "neither a zip archive nor a pickle (truncated, or another format)",
    );
  }
  const magic = unpickle(bytes, 0, pickleHooks(fail, "magic number"));
  if (magic.value !== LEGACY_MAGIC) fail("a pickle, but not a checkpoint written by torch.save (no magic number)");
  const protocol = unpickle(bytes, magic.end, pickleHooks(fail, "protocol version"));
  if (protocol.value !== LEGACY_PROTOCOL) fail(`legacy protocol version ${protocol.value}, not ${LEGACY_PROTOCOL}`);
  const sysInfo = unpickle(bytes, protocol.end, pickleHooks(fail, "system info"));
  if (!(sysInfo.value instanceof PyDict)) fail(`system info is a ${describe(sysInfo.value)}, not a dict`);
  const littleEndian = (sysInfo.value as PyDict).entries.get("little_endian") !== false;
  const storages = new Map<string, StorageRef>();
  const object = unpickle(bytes, sysInfo.end, pickleHooks(fail, "object pickle", storages));
  const keyList = unpickle(bytes, object.end, pickleHooks(fail, "storage keys"));
  if (!(keyList.value instanceof PyList)) fail(`the storage keys are a ${describe(keyList.value)}, not a list`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ranges = new Map<string, Uint8Array>();
  let pos = keyList.end;
  for (const key of (keyList.value as PyList).items) {
    if (typeof key !== "string") fail(`a storage key is a ${describe(key)}`);
    const ref = storages.get(key as string);
    if (!ref) fail(`storage ${key} is listed but no tensor uses it, so its element size is unknown`);
    if (ranges.has(key as string)) fail(`storage ${key} is listed twice`);
    if (pos + 8 > bytes.length) fail(`the file ends before storage ${key} (truncated)`);
    const numel = view.getBigInt64(pos, littleEndian);
    if (numel !== BigInt(ref!.numel)) {
      fail(`storage ${key} holds ${numel} elements by its header but ${ref!.numel} by the object pickle`);
    }
    const start = pos + 8;
    const end = start + ref!.numel * ref!.itemSize;
    if (end > bytes.length) {
      fail(`storage ${key} needs ${end - start} bytes at ${start} but the file ends at ${bytes.length} (truncated)`);
    }
    ranges.set(key as string, bytes.subarray(start, end));
    pos = end;
  }
  const storageBytes = (s: StorageRef): Uint8Array =>
    ranges.get(s.key) ?? fail(`storage ${s.key} is used by a tensor but missing from the storage list`);
  return { root: object.value, storageBytes, littleEndian };
}

/**
 * Reads a checkpoint written by `torch.save` (see {@linkcode parsePth} for what is read) and uploads its float
 * tensors to `backend`; integer and bool tensors (such as batch norm's `num_batches_tracked`) are left out, as
 * `loadTensors` leaves them out. Every error names `path`; a file-system error keeps its class (`Deno.errors.*`)
 * and is the `cause`.
 *
 * @example
 * ```ts
 * import { getBackend, loadPth } from "@at/core";
 *
 * const { tensors } = await loadPth("resnet18.pth", getBackend());
 * ```
 */
export async function loadPth(path: string, backend: Backend): Promise<{ tensors: Record<string, Tensor> }> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw pathError("loadPth", "read", path, e);
  }
  const file = parsePth(bytes, path);
  const entries: [string, Tensor][] = [];
  try {
    for (const [name, t] of file.tensors) {
      if (t.data instanceof Float32Array) entries.push([name, wrap(backend, backend.upload(t.data), t.shape)]);
    }
  } catch (e) {
    for (const [, t] of entries) t.dispose();
    throw e;
  }
  // Own properties (fromEntries), so a tensor named "__proto__" is an entry, not the record's prototype.
  return { tensors: Object.fromEntries(entries) };
}
