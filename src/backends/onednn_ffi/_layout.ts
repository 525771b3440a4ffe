/**
 * The memory of the onednn backend: host buffers that oneDNN reads and writes in place, each holding its
 * values in one memory layout, with copies in other layouts made on demand and kept while the values stay.
 *
 * Storage is the cpu backend's: blocks of shared memory from its pool (`CpuBuffer`), so the TypeScript cpu
 * kernels that serve the ops oneDNN does not run work on the same memory, and a block is reused the next
 * step instead of being allocated. oneDNN reads a block through a pointer to its backing store (which never
 * moves); the buffer keeps the block alive, so the pointer stays valid while oneDNN may use it.
 *
 * A layout is a oneDNN memory descriptor, interned ({@linkcode Layouts.intern}): equal descriptors are the
 * same {@linkcode Layout} object, so comparing layouts is `===`. The plain layout (row-major, what the
 * contract means by NCHW) is one value for every shape, {@linkcode PLAIN}: plain memory of `size` floats
 * reads the same whatever shape it is viewed as. A primitive may prefer a blocked layout (`nChw16c`: 16
 * channels innermost) for its output; the buffer then holds those values, and whoever needs them plain
 * (a cpu kernel, a download, a primitive that wants another layout) gets a reordered copy, kept beside the
 * original until the buffer is freed or written in place. Elementwise kernels run on any layout without
 * padding: the result is in the same layout.
 *
 * @module
 */
import { type DeviceBuffer, elementCount } from "../backend.ts";
import { CpuBuffer } from "../cpu/mod.ts";
import { DNNL, DNNL_OFFSETS } from "./_ffi_dnnl.ts";
import type { Dnnl, MemoryDesc, Primitive } from "./_primitive.ts";

/** A memory layout: a oneDNN memory descriptor, interned. */
export interface Layout {
  /** Serial number, for reorder cache keys. */
  readonly id: number;
  /** The descriptor (its dimensions are those of the primitive that chose it). */
  readonly md: MemoryDesc;
  /** Its dimensions. */
  readonly dims: readonly number[];
  /** Floats a buffer in this layout occupies (more than the elements when the layout pads). */
  readonly floats: number;
  /** Whether it is row-major contiguous (then any plain layout of the same size is interchangeable). */
  readonly plain: boolean;
  /** e.g. `"plain"`, `"nChw16c [128,16,32,32]"`, for messages. */
  readonly name: string;
  /** `B` when the layout is `nChwBc` (channels in blocks of `B`, innermost) of 4-D dims, else undefined. */
  readonly channelBlock?: number;
}

/** The `nChwBc` layouts, by block: the activations of oneDNN's AVX-512, AVX2 and SSE kernels. */
const CHANNEL_BLOCKS: readonly (readonly [number, number])[] = [
  [16, DNNL.dnnl_aBcd16b],
  [8, DNNL.dnnl_aBcd8b],
  [4, DNNL.dnnl_aBcd4b],
];

/** The plain layout of any shape. */
export const PLAIN: Layout = { id: 0, md: new Uint8Array(0), dims: [], floats: 0, plain: true, name: "plain" };

/** A copy of a buffer's values in another layout. */
interface Copy {
  readonly layout: Layout;
  readonly storage: CpuBuffer;
}

/** Address of a storage block's first float (the backing store of a SharedArrayBuffer never moves). */
const addresses = new WeakMap<SharedArrayBuffer, bigint>();
function addressOf(storage: CpuBuffer): bigint {
  const memory = storage.block.memory;
  let address = addresses.get(memory);
  if (address === undefined) {
    address = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(storage.data)));
    addresses.set(memory, address);
  }
  return address;
}

/** A buffer of the onednn backend: `size` float32 elements, held in `layout`. */
export class OnednnBuffer implements DeviceBuffer {
  readonly size: number;
  /** The backend that made it (buffers of other backends, or other instances, are refused). */
  readonly owner: object;
  #layout: Layout;
  #storage: CpuBuffer | undefined;
  #copies: Copy[] = [];

  constructor(owner: object, size: number, storage: CpuBuffer, layout: Layout = PLAIN) {
    this.owner = owner;
    this.size = size;
    this.#storage = storage;
    this.#layout = layout;
  }

  /** Whether `free` gave the memory back. */
  get freed(): boolean {
    return this.#storage === undefined;
  }

  /** The layout of {@linkcode OnednnBuffer.storage}. */
  get layout(): Layout {
    return this.#layout;
  }

  /** The block holding the values in {@linkcode OnednnBuffer.layout}. */
  get storage(): CpuBuffer {
    if (!this.#storage) throw new Error(`onednn backend: a buffer of ${this.size} elements was used after free`);
    return this.#storage;
  }

  /** The copy in `layout`, if one was made. */
  copyIn(layout: Layout): CpuBuffer | undefined {
    for (const c of this.#copies) if (c.layout === layout) return c.storage;
    return undefined;
  }

  /** Keeps `storage` as the copy of the values in `layout`. */
  addCopy(layout: Layout, storage: CpuBuffer): void {
    this.#copies.push({ layout, storage });
  }

  /** Makes a copy the primary storage and drops every other (before an in-place write). */
  promote(layout: Layout, storage: CpuBuffer): void {
    const old = this.storage;
    if (old !== storage) old.release();
    for (const c of this.#copies) if (c.storage !== storage) c.storage.release();
    this.#copies = [];
    this.#storage = storage;
    this.#layout = layout;
  }

  /** Drops the copies (the primary storage is about to change). */
  dropCopies(): void {
    for (const c of this.#copies) c.storage.release();
    this.#copies = [];
  }

  /** Gives every block back. */
  release(): void {
    this.dropCopies();
    this.#storage?.release();
    this.#storage = undefined;
  }
}

function readDims(md: MemoryDesc): number[] {
  const view = new DataView(md.buffer, md.byteOffset, md.byteLength);
  const ndims = view.getInt32(DNNL_OFFSETS["dnnl_memory_desc_t.ndims"], true);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) {
    dims.push(Number(view.getBigInt64(DNNL_OFFSETS["dnnl_memory_desc_t.dims"] + 8 * i, true)));
  }
  return dims;
}

/** The layouts in use, the reorders between them, and the buffers' storage in each. */
export class Layouts {
  readonly #dnnl: Dnnl;
  readonly #interned = new Map<string, Layout>();
  readonly #reorders = new Map<string, Primitive>();
  readonly #owner: object;
  /** Keep blocked layouts between primitives (else every output is reordered to plain at once). */
  readonly keepBlocked: boolean;
  /** Floats reordered since start, by `from → to` layout names (for benchmarks and tests). */
  readonly reordered: Map<string, number> = new Map();

  constructor(dnnl: Dnnl, owner: object, keepBlocked: boolean) {
    this.#dnnl = dnnl;
    this.#owner = owner;
    this.keepBlocked = keepBlocked;
  }

  /** The layout object for a memory descriptor ({@linkcode PLAIN} for any row-major one). */
  intern(md: MemoryDesc): Layout {
    const dims = readDims(md);
    const plainMd = this.#dnnl.plain(dims);
    if (this.#dnnl.equal(md, plainMd)) return PLAIN;
    const key = String.fromCharCode(...new Uint16Array(md.buffer, md.byteOffset, md.byteLength >> 1));
    let layout = this.#interned.get(key);
    if (!layout) {
      const format = new DataView(md.buffer, md.byteOffset).getInt32(
        DNNL_OFFSETS["dnnl_memory_desc_t.format_kind"],
        true,
      );
      if (format !== DNNL.dnnl_blocked) {
        throw new RangeError(
          `onednn backend: a primitive chose a memory layout of format kind ${format} for [${dims}]`,
        );
      }
      const floats = this.#dnnl.bytes(md) / 4;
      const channelBlock = dims.length === 4
        ? CHANNEL_BLOCKS.find(([, tag]) => this.#dnnl.equal(md, this.#dnnl.tagged(dims, tag)))?.[0]
        : undefined;
      const kind = channelBlock ? `nChw${channelBlock}c` : "blocked";
      layout = {
        id: this.#interned.size + 1,
        md: md.slice(),
        dims,
        floats,
        plain: false,
        name: `${kind} [${dims}]${floats > elementCount(dims) ? " (padded)" : ""}`,
        channelBlock,
      };
      this.#interned.set(key, layout);
    }
    return layout;
  }

  /**
   * A new block for the values of `size` elements in `layout`; `context` names the operation in the error when
   * the host has no memory for it.
   */
  alloc(size: number, layout: Layout = PLAIN, context = "a buffer"): CpuBuffer {
    const floats = layout.plain ? size : layout.floats;
    try {
      return new CpuBuffer(floats);
    } catch (e) {
      throw new RangeError(
        `${context}: out of host memory allocating ${(floats * 4 / 2 ** 20).toFixed(1)} MiB (${layout.name}); ` +
          `free tensors with tidy() or dispose()`,
        { cause: e },
      );
    }
  }

  /**
   * A new buffer of `size` elements that `fill` writes in `layout` (a primitive's output): the block is given back
   * if `fill` throws, and the result is wrapped as {@linkcode Layouts.wrap} does.
   */
  produce(
    size: number,
    layout: Layout,
    context: string,
    fill: (out: CpuBuffer) => void,
    options: { plain?: boolean } = {},
  ): OnednnBuffer {
    const out = this.alloc(size, layout, context);
    try {
      fill(out);
    } catch (e) {
      out.release();
      throw e;
    }
    return this.wrap(size, out, layout, options);
  }

  /**
   * A buffer over `storage`, whose values are in `layout`: reordered to plain at once unless blocked layouts
   * are kept (and `options.plain` does not ask for plain).
   */
  wrap(size: number, storage: CpuBuffer, layout: Layout = PLAIN, options: { plain?: boolean } = {}): OnednnBuffer {
    if (layout.plain) return new OnednnBuffer(this.#owner, size, storage, PLAIN);
    // Padded layouts never outlive the primitive that made them: their padding must stay zero, which
    // the elementwise kernels would not keep.
    if (!this.keepBlocked || options.plain || layout.floats !== size) {
      const plain = new CpuBuffer(size);
      this.#reorder(layout, PLAIN, storage, plain, layout.dims);
      storage.release();
      return new OnednnBuffer(this.#owner, size, plain, PLAIN);
    }
    return new OnednnBuffer(this.#owner, size, storage, layout);
  }

  /** The buffer's values in plain layout (a kept copy when it holds them otherwise). */
  plain(buffer: OnednnBuffer): CpuBuffer {
    return this.storageIn(buffer, PLAIN);
  }

  /**
   * The buffer's values in `layout`: its own storage, a kept copy, or a new copy (reordered, and kept). A
   * reorder between plain memory and a blocked layout reads the plain memory with the blocked layout's dims.
   */
  storageIn(buffer: OnednnBuffer, layout: Layout): CpuBuffer {
    if (buffer.layout === layout) return buffer.storage;
    const kept = buffer.copyIn(layout);
    if (kept) return kept;
    const from = buffer.layout;
    let source = buffer.storage;
    if (!from.plain && !layout.plain && !sameDims(from.dims, layout.dims)) {
      // Between blocked layouts of different shapes: through plain memory.
      source = this.plain(buffer);
      return this.#convert(buffer, PLAIN, source, layout, layout.dims);
    }
    return this.#convert(buffer, from, source, layout, from.plain ? layout.dims : from.dims);
  }

  /** The buffer's values as its only storage, in plain layout (before the cpu kernels write it in place). */
  makePlainPrimary(buffer: OnednnBuffer): CpuBuffer {
    const plain = this.plain(buffer);
    buffer.promote(PLAIN, plain);
    return plain;
  }

  #convert(buffer: OnednnBuffer, from: Layout, source: CpuBuffer, to: Layout, dims: readonly number[]): CpuBuffer {
    const out = this.alloc(buffer.size, to, `reorder from ${from.name} to ${to.name}`);
    try {
      this.#reorder(from, to, source, out, dims);
    } catch (e) {
      out.release();
      throw e;
    }
    buffer.addCopy(to, out);
    return out;
  }

  #reorder(from: Layout, to: Layout, source: CpuBuffer, target: CpuBuffer, dims: readonly number[]): void {
    const key = `${from.id}>${to.id}:${from.plain || to.plain ? dims.join(",") : ""}`;
    let prim = this.#reorders.get(key);
    if (!prim) {
      const src = from.plain ? this.#dnnl.plain(dims) : from.md;
      const dst = to.plain ? this.#dnnl.plain(dims) : to.md;
      const context = `reorder [${dims}] from ${from.name} to ${to.name}`;
      prim = this.#dnnl.primitive(
        this.#dnnl.describeReorder(src, dst, context),
        [[DNNL.DNNL_ARG_SRC, src], [DNNL.DNNL_ARG_DST, dst]],
        context,
      );
      this.#reorders.set(key, prim);
    }
    prim.run([addressOf(source), addressOf(target)]);
    const label = `${from.plain ? `plain [${dims}]` : from.name} → ${to.plain ? "plain" : to.name}`;
    this.reordered.set(label, (this.reordered.get(label) ?? 0) + target.size);
  }
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export { addressOf };
