/**
 * A size-bucketed pool of GPU buffers. Freed buffers wait in the bucket of their capacity and are handed
 * out again for any request that rounds up to it. Reuse is safe because the queue executes in order:
 * every command that read a freed buffer was encoded before the command that reuses it.
 *
 * @module
 */

/**
 * Capacity, in bytes, of the bucket a request of `bytes` falls in: a multiple of 256 up to 4 KiB, then
 * `2^e * (1 + j/4)`, so at most a quarter of a buffer is slack.
 */
export function bucketBytes(bytes: number): number {
  if (bytes <= 4096) return Math.max(256, Math.ceil(bytes / 256) * 256);
  const e = Math.floor(Math.log2(bytes));
  const step = 2 ** (e - 2);
  return Math.ceil(bytes / step) * step;
}

/** Something the device owns that a pool can destroy. */
export interface Destroyable {
  destroy(): void;
}

/**
 * Free lists keyed by size class, within a byte budget. Reuse is safe because the queue executes in
 * order; an item over the budget is retired and destroyed only after the next submit, because commands
 * recorded before its release may still use it.
 */
export class FreeLists<T extends Destroyable> {
  readonly #free = new Map<number, T[]>();
  #pooledBytes = 0;
  #retired: T[] = [];

  constructor(private readonly maxPooledBytes: number) {}

  /** Bytes held by free items. */
  get pooledBytes(): number {
    return this.#pooledBytes;
  }

  /** A free item of size class `key` (`bytes` each), if there is one. */
  take(key: number, bytes: number): T | undefined {
    const item = this.#free.get(key)?.pop();
    if (item) this.#pooledBytes -= bytes;
    return item;
  }

  /** Returns an item to its size class, or retires it when the pool is over budget. */
  put(key: number, bytes: number, item: T): void {
    if (this.#pooledBytes + bytes > this.maxPooledBytes) {
      this.#retired.push(item);
      return;
    }
    let list = this.#free.get(key);
    if (!list) this.#free.set(key, list = []);
    list.push(item);
    this.#pooledBytes += bytes;
  }

  /** Destroys retired items; call right after a submit, which holds its own references. */
  destroyRetired(): void {
    for (const item of this.#retired) item.destroy();
    this.#retired = [];
  }

  /** Destroys every pooled item. */
  clear(): void {
    for (const list of this.#free.values()) for (const item of list) item.destroy();
    this.#free.clear();
    this.#pooledBytes = 0;
    this.destroyRetired();
  }
}

/** Buffers with one usage, pooled by capacity. */
export class BufferPool {
  readonly #lists: FreeLists<GPUBuffer>;

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: number,
    private readonly label: string,
    maxPooledBytes: number,
  ) {
    this.#lists = new FreeLists(maxPooledBytes);
  }

  /** Bytes held by free buffers. */
  get pooledBytes(): number {
    return this.#lists.pooledBytes;
  }

  /** A buffer of at least `bytes`; `fresh` is true when it was just created (and so holds zeros). */
  acquire(bytes: number): { buffer: GPUBuffer; fresh: boolean } {
    const capacity = bucketBytes(bytes);
    const reused = this.#lists.take(capacity, capacity);
    if (reused) return { buffer: reused, fresh: false };
    const buffer = this.device.createBuffer({ size: capacity, usage: this.usage, label: `${this.label} ${capacity}` });
    return { buffer, fresh: true };
  }

  /** Returns a buffer to its bucket (or retires it when the pool is over budget). */
  release(buffer: GPUBuffer): void {
    this.#lists.put(buffer.size, buffer.size, buffer);
  }

  /** Destroys retired buffers; call right after a submit, which holds its own references. */
  destroyRetired(): void {
    this.#lists.destroyRetired();
  }

  /** Destroys every pooled buffer. */
  clear(): void {
    this.#lists.clear();
  }
}
