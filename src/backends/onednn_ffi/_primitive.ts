/**
 * The oneDNN 2.x object model in a few helpers: memory descriptors as `Uint8Array`s, primitive
 * descriptors built from an op descriptor, and {@linkcode Primitive}, which owns one primitive, one
 * oneDNN memory object per argument and the packed `dnnl_exec_arg_t` array, so that running it is one
 * `dnnl_memory_set_data_handle` per argument and one `dnnl_primitive_execute`.
 *
 * Every primitive is created with the user scratchpad mode and shares one scratch area
 * ({@linkcode Scratch}), so oneDNN allocates nothing per call.
 *
 * @module
 */
import { DNNL, DNNL_OFFSETS, DNNL_SIZES, MAX_OP_DESC_BYTES } from "./_ffi_dnnl.ts";
import type { Runtime } from "./_runtime.ts";

/** A `dnnl_memory_desc_t`, by value. */
export type MemoryDesc = Uint8Array;

/** The plain (row-major, contiguous) format tag of each rank. */
const PLAIN_TAGS: readonly number[] = [0, DNNL.dnnl_a, DNNL.dnnl_ab, DNNL.dnnl_abc, DNNL.dnnl_abcd];

/** `dims` as a `dnnl_dims_t`. */
export function dimsOf(values: readonly number[]): BigInt64Array {
  const out = new BigInt64Array(DNNL.DNNL_MAX_NDIMS);
  values.forEach((v, i) => out[i] = BigInt(v));
  return out;
}

/** One growable host area that every primitive uses as its scratchpad. */
export class Scratch {
  #memory = new ArrayBuffer(0);
  #ptr = 0n;
  /** Its address (0 while empty). */
  get ptr(): bigint {
    return this.#ptr;
  }
  /** Makes the area at least `bytes` long (64-byte aligned); previous contents are not kept. */
  ensure(bytes: number): void {
    if (bytes + 64 <= this.#memory.byteLength) return;
    this.#memory = new ArrayBuffer(Math.ceil((bytes + 64) * 1.25));
    const base = Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#memory));
    this.#ptr = (BigInt(base) + 63n) & ~63n;
  }
}

/** oneDNN's object model on one engine and stream. */
export class Dnnl {
  readonly rt: Runtime;
  readonly scratch: Scratch = new Scratch();
  readonly #slot = new BigUint64Array(1);
  readonly #attr: bigint;
  /** The op descriptor every `*_desc_init` writes into (copied by `dnnl_primitive_desc_create`). */
  readonly opDesc: Uint8Array = new Uint8Array(MAX_OP_DESC_BYTES);

  constructor(rt: Runtime) {
    this.rt = rt;
    const { lib, check } = rt;
    check(lib.symbols.dnnl_primitive_attr_create(this.#slot), "dnnl_primitive_attr_create");
    this.#attr = this.#slot[0];
    check(
      lib.symbols.dnnl_primitive_attr_set_scratchpad_mode(this.#attr, DNNL.dnnl_scratchpad_mode_user),
      "dnnl_primitive_attr_set_scratchpad_mode",
    );
  }

  /** A plain (contiguous row-major) f32 memory descriptor of `dims`. */
  plain(dims: readonly number[]): MemoryDesc {
    return this.tagged(dims, PLAIN_TAGS[dims.length]);
  }

  /** An f32 memory descriptor of `dims` in the layout of `tag` (`dnnl_format_tag_any` lets a primitive choose). */
  tagged(dims: readonly number[], tag: number): MemoryDesc {
    const md = new Uint8Array(DNNL_SIZES.dnnl_memory_desc_t);
    this.rt.check(
      this.rt.lib.symbols.dnnl_memory_desc_init_by_tag(md, dims.length, dimsOf(dims), DNNL.dnnl_f32, tag),
      "dnnl_memory_desc_init_by_tag",
      `memory [${dims}]`,
    );
    return md;
  }

  /** An f32 memory descriptor of `dims` with element strides `strides`. */
  strided(dims: readonly number[], strides: readonly number[]): MemoryDesc {
    const md = new Uint8Array(DNNL_SIZES.dnnl_memory_desc_t);
    this.rt.check(
      this.rt.lib.symbols.dnnl_memory_desc_init_by_strides(
        md,
        dims.length,
        dimsOf(dims),
        DNNL.dnnl_f32,
        dimsOf(strides),
      ),
      "dnnl_memory_desc_init_by_strides",
      `memory [${dims}] strides [${strides}]`,
    );
    return md;
  }

  /** Bytes a memory of this descriptor occupies. */
  bytes(md: MemoryDesc): number {
    return Number(this.rt.lib.symbols.dnnl_memory_desc_get_size(md));
  }

  /** Whether two memory descriptors describe the same layout. */
  equal(a: MemoryDesc, b: MemoryDesc): boolean {
    return this.rt.lib.symbols.dnnl_memory_desc_equal(a, b) === 1;
  }

  /**
   * A primitive descriptor for the op descriptor that `init` writes into {@linkcode Dnnl.opDesc}
   * (returning the init call's status), with the user scratchpad and the forward hint
   * a backward primitive needs. `context` names the operation and shapes in errors.
   */
  describe(
    initCall: string,
    init: (desc: Uint8Array) => number,
    context: string,
    options: { hint?: bigint } = {},
  ): bigint {
    const { lib, check, engine } = this.rt;
    this.opDesc.fill(0);
    check(init(this.opDesc), initCall, context);
    check(
      lib.symbols.dnnl_primitive_desc_create(
        this.#slot,
        this.opDesc,
        this.#attr,
        engine,
        options.hint ?? 0n,
      ),
      "dnnl_primitive_desc_create",
      context,
    );
    return this.#slot[0];
  }

  /** The reorder primitive descriptor from `src` to `dst` layout. */
  describeReorder(src: MemoryDesc, dst: MemoryDesc, context: string): bigint {
    const { lib, check, engine } = this.rt;
    check(
      lib.symbols.dnnl_reorder_primitive_desc_create(this.#slot, src, engine, dst, engine, this.#attr),
      "dnnl_reorder_primitive_desc_create",
      context,
    );
    return this.#slot[0];
  }

  /** A copy of the memory descriptor a primitive descriptor reports for `query` (a zero one when it has none). */
  queryMd(pd: bigint, query: number, index = 0): MemoryDesc {
    const md = new Uint8Array(DNNL_SIZES.dnnl_memory_desc_t);
    const pointer = this.rt.lib.symbols.dnnl_primitive_desc_query_md(pd, query, index);
    if (pointer) Deno.UnsafePointerView.copyInto(pointer, md);
    return md;
  }

  /** The implementation oneDNN chose, e.g. `"jit:avx512_core"`. */
  implementation(pd: bigint): string {
    const out = new BigUint64Array(1);
    const status = this.rt.lib.symbols.dnnl_primitive_desc_query(pd, DNNL.dnnl_query_impl_info_str, 0, out);
    if (status !== 0 || out[0] === 0n) return "unknown";
    return Deno.UnsafePointerView.getCString(Deno.UnsafePointer.create(out[0])!);
  }

  /** The primitive of a primitive descriptor, with memory objects for `args` (pairs of argument and descriptor). */
  primitive(pd: bigint, args: readonly (readonly [number, MemoryDesc])[], context: string): Primitive {
    return new Primitive(this, pd, args, context);
  }
}

/** Whether a memory descriptor is the zero descriptor (the primitive has no such argument). */
export function isZeroMd(md: MemoryDesc): boolean {
  return new DataView(md.buffer, md.byteOffset).getInt32(DNNL_OFFSETS["dnnl_memory_desc_t.ndims"], true) === 0;
}

/**
 * One primitive, ready to run: a oneDNN memory object per argument (created without data; each run
 * points it at the caller's buffers) and the packed argument array.
 */
export class Primitive {
  readonly pd: bigint;
  readonly handle: bigint;
  /** The implementation oneDNN chose. */
  readonly implementation: string;
  /** The memory descriptor of each argument, in the order {@linkcode Primitive.run} takes pointers. */
  readonly mds: readonly MemoryDesc[];
  readonly #dnnl: Dnnl;
  readonly #memories: bigint[] = [];
  readonly #args: BigUint64Array;
  readonly #scratchBytes: number;
  readonly #scratchMemory: bigint;
  /** The operation and shapes it serves, for errors. */
  readonly context: string;

  constructor(dnnl: Dnnl, pd: bigint, args: readonly (readonly [number, MemoryDesc])[], context: string) {
    const { lib, check, engine } = dnnl.rt;
    this.#dnnl = dnnl;
    this.context = context;
    this.pd = pd;
    this.implementation = dnnl.implementation(pd);
    const slot = new BigUint64Array(1);
    const scratchMd = dnnl.queryMd(pd, DNNL.dnnl_query_scratchpad_md);
    this.#scratchBytes = isZeroMd(scratchMd) ? 0 : dnnl.bytes(scratchMd);
    const all = this.#scratchBytes > 0 ? [...args, [DNNL.DNNL_ARG_SCRATCHPAD, scratchMd] as const] : args;
    this.#args = new BigUint64Array(2 * all.length);
    all.forEach(([arg, md], i) => {
      check(lib.symbols.dnnl_memory_create(slot, md, engine, 0n), "dnnl_memory_create", context);
      this.#memories.push(slot[0]);
      this.#args[2 * i] = BigInt(arg);
      this.#args[2 * i + 1] = slot[0];
    });
    this.#scratchMemory = this.#scratchBytes > 0 ? this.#memories[this.#memories.length - 1] : 0n;
    this.mds = args.map(([, md]) => md);
    check(lib.symbols.dnnl_primitive_create(slot, pd), "dnnl_primitive_create", context);
    this.handle = slot[0];
  }

  /** Runs the primitive on the buffers at `ptrs` (one per argument, in the constructor's order). */
  run(ptrs: readonly bigint[]): void {
    const { lib, check, stream } = this.#dnnl.rt;
    const s = lib.symbols;
    for (let i = 0; i < ptrs.length; i++) {
      check(s.dnnl_memory_set_data_handle(this.#memories[i], ptrs[i]), "dnnl_memory_set_data_handle", this.context);
    }
    if (this.#scratchBytes > 0) {
      const scratch = this.#dnnl.scratch;
      try {
        scratch.ensure(this.#scratchBytes);
      } catch (e) {
        throw new RangeError(
          `${this.context}: out of host memory for a scratchpad of ${(this.#scratchBytes / 2 ** 20).toFixed(1)} MiB`,
          { cause: e },
        );
      }
      check(s.dnnl_memory_set_data_handle(this.#scratchMemory, scratch.ptr), "dnnl_memory_set_data_handle");
    }
    check(
      s.dnnl_primitive_execute(this.handle, stream, this.#args.length / 2, this.#args),
      "dnnl_primitive_execute",
      this.context,
    );
  }
}
