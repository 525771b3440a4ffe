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

/** Buffers with one usage, pooled by capacity. */
export class BufferPool {
  readonly #free = new Map<number, GPUBuffer[]>();
  #pooledBytes = 0;
  /** Buffers over the budget, destroyed once the commands that may use them have been submitted. */
  #retired: GPUBuffer[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: number,
    private readonly label: string,
    private readonly maxPooledBytes: number,
  ) {}

  /** Bytes held by free buffers. */
  get pooledBytes(): number {
    return this.#pooledBytes;
  }

  /** A buffer of at least `bytes`; `fresh` is true when it was just created (and so holds zeros). */
  acquire(bytes: number): { buffer: GPUBuffer; fresh: boolean } {
    const capacity = bucketBytes(bytes);
    const list = this.#free.get(capacity);
    const reused = list?.pop();
    if (reused) {
      this.#pooledBytes -= capacity;
      return { buffer: reused, fresh: false };
    }
    const buffer = this.device.createBuffer({ size: capacity, usage: this.usage, label: `${this.label} ${capacity}` });
    return { buffer, fresh: true };
  }

  /** Returns a buffer to its bucket (or retires it when the pool is over budget). */
  release(buffer: GPUBuffer): void {
    const capacity = buffer.size;
    if (this.#pooledBytes + capacity > this.maxPooledBytes) {
      this.#retired.push(buffer);
      return;
    }
    let list = this.#free.get(capacity);
    if (!list) this.#free.set(capacity, list = []);
    list.push(buffer);
    this.#pooledBytes += capacity;
  }

  /** Destroys retired buffers; call right after a submit, which holds its own references. */
  destroyRetired(): void {
    for (const b of this.#retired) b.destroy();
    this.#retired = [];
  }

  /** Destroys every pooled buffer. */
  clear(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.#pooledBytes = 0;
    this.destroyRetired();
  }
}
