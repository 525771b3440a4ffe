/**
 * Device memory: buffers, a size-bucketed pool of device allocations, a pool of pinned host staging blocks
 * for downloads, and the one growable workspace that cuDNN's convolution algorithms share.
 *
 * `cuMemAlloc`/`cuMemFree` are slow and synchronise, so freed buffers go back to a free list of their size
 * class and the next request of that class reuses them. Reuse is safe without waiting: every kernel, copy
 * and library call runs on one stream, in order, so work queued before a free finishes before work queued
 * after the reuse starts.
 *
 * @module
 */
import type { DeviceBuffer } from "../backend.ts";
import { CU_RESULT, type CudaLib } from "./_ffi_cuda.ts";
import type { Check } from "./_status.ts";

/** Smallest allocation, in bytes (cuMemAlloc aligns to 256 anyway). */
export const MIN_BLOCK_BYTES = 512;

/**
 * The size class of a request: the smallest of `2^k`, `1.25·2^k`, `1.5·2^k`, `1.75·2^k` that holds it
 * (at most a quarter wasted), and at least {@linkcode MIN_BLOCK_BYTES}.
 */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_BLOCK_BYTES) return MIN_BLOCK_BYTES;
  const p = 2 ** Math.floor(Math.log2(bytes));
  for (const f of [1, 1.25, 1.5, 1.75, 2]) {
    if (p * f >= bytes) return p * f;
  }
  return 2 * p;
}

/** A buffer of the cudnn backend: `size` float32 elements of device memory at `ptr`. */
export class CudaBuffer implements DeviceBuffer {
  /** Device address (0 for an empty buffer). */
  ptr: bigint;
  /** Bytes of the block behind it (its size class). */
  readonly blockBytes: number;
  constructor(readonly size: number, ptr: bigint, blockBytes: number, readonly pool: DevicePool) {
    this.ptr = ptr;
    this.blockBytes = blockBytes;
  }
  /** Whether `free` gave the memory back. */
  get freed(): boolean {
    return this.ptr < 0n;
  }
}

/** Bytes held by a pool. */
export interface PoolStats {
  /** In buffers handed out and not freed. */
  readonly inUse: number;
  /** In free blocks kept for reuse. */
  readonly cached: number;
}

/** Device memory in size classes, with free lists. */
export class DevicePool {
  readonly #cuda: CudaLib;
  readonly #check: Check;
  readonly #synchronize: () => void;
  readonly #free = new Map<number, bigint[]>();
  readonly #slot = new BigUint64Array(1);
  #inUse = 0;
  #cached = 0;

  /** `synchronize` waits for the stream (before memory is given back to the driver). */
  constructor(cuda: CudaLib, check: Check, synchronize: () => void) {
    this.#cuda = cuda;
    this.#check = check;
    this.#synchronize = synchronize;
  }

  /** A buffer of `size` float32 elements (contents undefined). */
  alloc(size: number): CudaBuffer {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`cudnn: cannot allocate ${size} elements`);
    if (size === 0) return new CudaBuffer(0, 0n, 0, this);
    const bytes = sizeClass(size * 4);
    const list = this.#free.get(bytes);
    let ptr = list?.pop();
    if (ptr !== undefined) {
      this.#cached -= bytes;
    } else {
      ptr = this.#allocate(bytes);
    }
    this.#inUse += bytes;
    return new CudaBuffer(size, ptr, bytes, this);
  }

  #allocate(bytes: number): bigint {
    let status = this.#cuda.symbols.cuMemAlloc_v2(this.#slot, BigInt(bytes));
    if (status === CU_RESULT.OUT_OF_MEMORY && this.#cached > 0) {
      this.trim();
      status = this.#cuda.symbols.cuMemAlloc_v2(this.#slot, BigInt(bytes));
    }
    if (status === CU_RESULT.OUT_OF_MEMORY) {
      throw new RangeError(
        `cudnn: out of device memory allocating ${mib(bytes)} (${mib(this.#inUse)} in use by tensors); ` +
          `free tensors with tidy() or dispose()`,
      );
    }
    this.#check(status, "cuMemAlloc_v2");
    return this.#slot[0];
  }

  /** Gives a buffer's block back to its free list. Throws on a second free. */
  free(buffer: CudaBuffer): void {
    if (buffer.freed) throw new Error("cudnn: buffer freed twice");
    if (buffer.blockBytes > 0) {
      let list = this.#free.get(buffer.blockBytes);
      if (!list) this.#free.set(buffer.blockBytes, list = []);
      list.push(buffer.ptr);
      this.#inUse -= buffer.blockBytes;
      this.#cached += buffer.blockBytes;
    }
    buffer.ptr = -1n;
  }

  /** Returns every free block to the driver (after the stream drains, since queued work may still use them). */
  trim(): void {
    if (this.#cached === 0) return;
    this.#synchronize();
    for (const list of this.#free.values()) {
      for (const ptr of list) this.#check(this.#cuda.symbols.cuMemFree_v2(ptr), "cuMemFree_v2");
    }
    this.#free.clear();
    this.#cached = 0;
  }

  /** Bytes in use and cached. */
  stats(): PoolStats {
    return { inUse: this.#inUse, cached: this.#cached };
  }
}

/** Pinned (page-locked) host blocks for device-to-host copies, in size classes. */
export class PinnedPool {
  readonly #cuda: CudaLib;
  readonly #check: Check;
  readonly #free = new Map<number, bigint[]>();
  readonly #all: bigint[] = [];
  readonly #slot = new BigUint64Array(1);

  constructor(cuda: CudaLib, check: Check) {
    this.#cuda = cuda;
    this.#check = check;
  }

  /** A pinned block of at least `bytes`: its address and its size class. */
  take(bytes: number): { ptr: bigint; bytes: number } {
    const cls = sizeClass(bytes);
    const ptr = this.#free.get(cls)?.pop();
    if (ptr !== undefined) return { ptr, bytes: cls };
    this.#check(this.#cuda.symbols.cuMemAllocHost_v2(this.#slot, BigInt(cls)), "cuMemAllocHost_v2");
    this.#all.push(this.#slot[0]);
    return { ptr: this.#slot[0], bytes: cls };
  }

  /** Gives a block back for reuse. */
  give(block: { ptr: bigint; bytes: number }): void {
    let list = this.#free.get(block.bytes);
    if (!list) this.#free.set(block.bytes, list = []);
    list.push(block.ptr);
  }

  /** Frees every block (none may be in use). */
  dispose(): void {
    for (const ptr of this.#all) this.#cuda.symbols.cuMemFreeHost(ptr);
    this.#all.length = 0;
    this.#free.clear();
  }
}

/** One device scratch area for cuDNN, grown (never shrunk) to the largest size asked for. */
export class Workspace {
  readonly #cuda: CudaLib;
  readonly #check: Check;
  readonly #synchronize: () => void;
  readonly #onOutOfMemory: () => void;
  readonly #slot = new BigUint64Array(1);
  /** Device address (0 while empty). */
  ptr = 0n;
  /** Its size in bytes. */
  bytes = 0;

  /** `onOutOfMemory` releases cached memory before one more try. */
  constructor(cuda: CudaLib, check: Check, synchronize: () => void, onOutOfMemory: () => void) {
    this.#cuda = cuda;
    this.#check = check;
    this.#synchronize = synchronize;
    this.#onOutOfMemory = onOutOfMemory;
  }

  /** Makes the workspace at least `bytes` long; returns false if the device has no room for that. */
  ensure(bytes: number): boolean {
    if (bytes <= this.bytes) return true;
    const want = sizeClass(bytes);
    // Work queued on the stream may still use the old area.
    this.#synchronize();
    if (this.ptr) this.#check(this.#cuda.symbols.cuMemFree_v2(this.ptr), "cuMemFree_v2");
    this.ptr = 0n;
    const old = this.bytes;
    this.bytes = 0;
    let status = this.#cuda.symbols.cuMemAlloc_v2(this.#slot, BigInt(want));
    if (status === CU_RESULT.OUT_OF_MEMORY) {
      this.#onOutOfMemory();
      status = this.#cuda.symbols.cuMemAlloc_v2(this.#slot, BigInt(want));
    }
    if (status === CU_RESULT.OUT_OF_MEMORY) {
      // Keep the old size so smaller requests still work.
      if (old > 0) this.#check(this.#cuda.symbols.cuMemAlloc_v2(this.#slot, BigInt(old)), "cuMemAlloc_v2");
      this.ptr = old > 0 ? this.#slot[0] : 0n;
      this.bytes = old;
      return false;
    }
    this.#check(status, "cuMemAlloc_v2");
    this.ptr = this.#slot[0];
    this.bytes = want;
    return true;
  }

  /** Frees the area. */
  dispose(): void {
    if (this.ptr) this.#cuda.symbols.cuMemFree_v2(this.ptr);
    this.ptr = 0n;
    this.bytes = 0;
  }
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
