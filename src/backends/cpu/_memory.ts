/**
 * Memory of the cpu backend. Every buffer lives in a `SharedArrayBuffer`, so the worker threads read and
 * write it in place; workers know each block by its `id`. Freed blocks (and blocks whose buffer was
 * garbage-collected unfreed) wait in a free list by size class and are handed out again, so a training
 * loop that allocates the same sizes every step neither allocates nor zeroes fresh pages, nor re-sends
 * blocks to the workers, after its first step.
 *
 * @module
 */
import type { DeviceBuffer } from "../backend.ts";

/** A block of shared memory: `capacity` float32 elements. */
export class SharedBlock {
  /** How many worker threads (the first ones, in start order) hold the block: it is sent to each once. */
  sharedWith = 0;
  constructor(readonly id: number, readonly memory: SharedArrayBuffer) {}
  /** Float32 elements the block holds. */
  get capacity(): number {
    return this.memory.byteLength >> 2;
  }
}

/**
 * Capacity, in float32 elements, of the class a request of `size` falls in: a multiple of 64 up to 1024,
 * then `2^e * (1 + j/8)`, so at most an eighth of a block is slack.
 */
export function sizeClass(size: number): number {
  if (size <= 1024) return Math.max(64, Math.ceil(size / 64) * 64);
  const step = 2 ** (Math.floor(Math.log2(size)) - 3);
  return Math.ceil(size / step) * step;
}

/** Free blocks kept for reuse never exceed this, nor the most memory ever in use at once if that is more. */
const MIN_POOLED_BYTES = 256 * 2 ** 20;

const free = new Map<number, SharedBlock[]>();
let pooledBytes = 0;
let inUseBytes = 0;
let peakInUseBytes = 0;
let nextId = 1;
/** Ids of dropped blocks the workers still hold; the thread pool tells them to let go. */
let dropped: number[] = [];

/** A block of at least `size` elements; its contents are whatever the last user left (fresh ones are zero). */
export function acquireBlock(size: number): SharedBlock {
  const capacity = sizeClass(size);
  let block = free.get(capacity)?.pop();
  if (block) pooledBytes -= capacity * 4;
  else block = new SharedBlock(nextId++, new SharedArrayBuffer(capacity * 4));
  inUseBytes += capacity * 4;
  peakInUseBytes = Math.max(peakInUseBytes, inUseBytes);
  return block;
}

/** Returns a block to its free list, or drops it when the free lists are full. */
export function releaseBlock(block: SharedBlock): void {
  const bytes = block.memory.byteLength;
  inUseBytes -= bytes;
  if (pooledBytes + bytes > Math.max(MIN_POOLED_BYTES, peakInUseBytes)) {
    if (block.sharedWith > 0) dropped.push(block.id);
    return;
  }
  let list = free.get(bytes >> 2);
  if (!list) free.set(bytes >> 2, list = []);
  list.push(block);
  pooledBytes += bytes;
}

/** Blocks ever created, and bytes in use, held in free lists, and in use at most (for tests and benches). */
export function memoryStats(): { blocks: number; inUseBytes: number; pooledBytes: number; peakInUseBytes: number } {
  return { blocks: nextId - 1, inUseBytes, pooledBytes, peakInUseBytes };
}

/** Ids of the shared blocks dropped since the last call. */
export function takeDropped(): number[] {
  const ids = dropped;
  dropped = [];
  return ids;
}

/** Buffers collected without `free` give their block back too. */
const collected = new FinalizationRegistry<SharedBlock>(releaseBlock);

/** A buffer of the cpu backend: `size` float32 elements at the start of a shared block. */
export class CpuBuffer implements DeviceBuffer {
  readonly block: SharedBlock;
  #data: Float32Array | undefined;

  /** A buffer of `size` elements with unspecified contents; use {@linkcode CpuBuffer.zeros} for zeros. */
  constructor(readonly size: number) {
    this.block = acquireBlock(size);
    this.#data = new Float32Array(this.block.memory, 0, size);
    collected.register(this, this.block, this);
  }

  /** A buffer of `size` zeros. */
  static zeros(size: number): CpuBuffer {
    const b = new CpuBuffer(size);
    b.data.fill(0);
    return b;
  }

  /** The elements. Throws once the buffer has been freed. */
  get data(): Float32Array {
    if (!this.#data) throw new Error(`cpu backend: a buffer of ${this.size} elements was used after free`);
    return this.#data;
  }

  /** Gives the block back; the buffer must not be used again. */
  release(): void {
    if (!this.#data) return;
    this.#data = undefined;
    collected.unregister(this);
    releaseBlock(this.block);
  }
}
