/**
 * Batching with a fresh seeded shuffle every epoch, and a background worker that prepares the next batches while
 * the caller computes on the current one.
 *
 * @module
 */
import { type AugmentOptions, type Batch, checkAugment } from "./augment.ts";
import { BOOLEAN, numberRule, oneOf, type OptionRule, optionsChecker, required } from "../_options.ts";
import { checkDataset, type ImageDataset, sharedBytes } from "./dataset.ts";
import type { Normalization } from "./normalization.ts";
import { type EpochSpec, ORDER_STREAM, prepareBatch } from "./_epoch.ts";
import type { WorkerRequest } from "./_worker_protocol.ts";
import { workerBatches } from "./_worker_pool.ts";
import { keyedRng } from "./_seed.ts";

/** Options of {@linkcode DataLoader}. */
export interface DataLoaderOptions {
  /** Images per batch; the epoch's last batch holds the remainder (torch's `drop_last=False`). */
  readonly batchSize: number;
  /** A new seeded permutation every epoch (training) or the data set's order (testing). */
  readonly shuffle: boolean;
  /** Per-channel normalisation after scaling pixels to [0, 1]. */
  readonly normalization: Normalization;
  /** Training augmentation, or `null`/absent for none (test). */
  readonly augment?: AugmentOptions | null;
  /** Seed of every shuffle and augmentation draw. Default 0. */
  readonly seed?: number;
  /** Batches requested ahead of the one being consumed (worker path). Default 2. */
  readonly prefetch?: number;
  /**
   * Prepare batches in a worker: `"auto"` (default) uses one when workers exist and the worker module may be read,
   * else builds batches on the calling thread; `true` always, `false` never.
   */
  readonly worker?: boolean | "auto";
}

/** Where to start an epoch: batch `startBatch` onwards (default 0), to resume in the middle of one. */
export interface EpochOptions {
  readonly startBatch?: number;
}

const WORKER_URL = new URL("./batch_worker.ts", import.meta.url);

const POSITIVE_INTEGER: OptionRule = { ...numberRule({ min: 1, integer: true }), expected: "a positive integer" };
/** The rules of {@linkcode DataLoaderOptions}, shared with `createLoaders`. */
export const LOADER_RULES = {
  batchSize: required(POSITIVE_INTEGER),
  shuffle: required(BOOLEAN),
  normalization: required({
    expected: "a Normalization { mean: [r, g, b], std: [r, g, b] }",
    test: (v) => {
      const n = v as Partial<Normalization> | null;
      return typeof n === "object" && n !== null && n.mean?.length === 3 && n.std?.length === 3;
    },
  }),
  augment: { expected: "AugmentOptions { pad, flip } or null", test: (v) => typeof v === "object" },
  seed: { ...numberRule({ integer: true }), expected: "a safe integer" },
  prefetch: POSITIVE_INTEGER,
  worker: oneOf(true, false, "auto"),
} as const satisfies Record<keyof DataLoaderOptions, OptionRule>;
const checkLoaderOptions = optionsChecker<DataLoaderOptions>("DataLoader", LOADER_RULES);
const checkEpochOptions = optionsChecker<EpochOptions>("DataLoader epoch", {
  startBatch: { ...numberRule({ min: 0, integer: true }), expected: "a batch number, an integer ≥ 0" },
});

/**
 * Splits a data set into batches. Everything random is a pure function of `(seed, epoch)`: epoch `e`'s order is
 * the permutation drawn from a generator keyed `(seed, e)`, and batch `i`'s flips and crops come from one keyed
 * `(seed, e, i)`. So a run resumed at epoch `k` (or at batch `i` of it, with `startBatch`) draws exactly the batches
 * an uninterrupted run would, and the only resume state is the seed and the epoch (and batch) number.
 *
 * {@linkcode DataLoader.epoch} prefetches in a worker and always keeps the next `prefetch` batches in flight;
 * {@linkcode DataLoader.epochSync} builds them on the calling thread, with identical results.
 *
 * @example
 * ```ts
 * const loader = new DataLoader(train, { batchSize: 128, shuffle: true, seed: 1, augment: CIFAR_AUGMENT,
 *   normalization: CIFAR_NORMALIZATION });
 * for (let epoch = startEpoch; epoch < epochs; epoch++) {
 *   for await (const { images, labels } of loader.epoch(epoch)) step(images, labels);
 * }
 * ```
 */
export class DataLoader {
  /** The data set served. */
  readonly dataset: ImageDataset;
  /** Images per batch. */
  readonly batchSize: number;
  /** Whether each epoch has its own permutation. */
  readonly shuffle: boolean;
  /** Seed of all randomness. */
  readonly seed: number;
  /** The augmentation of training batches, or `null`. */
  readonly augment: AugmentOptions | null;
  /** The normalisation of every batch. */
  readonly normalization: Normalization;
  readonly #prefetch: number;
  readonly #worker: boolean | "auto";
  #sharedImages: Uint8Array | null = null;

  /** A loader over `dataset`; throws a `RangeError` naming any bad option. */
  constructor(dataset: ImageDataset, options: DataLoaderOptions) {
    checkDataset(dataset, "DataLoader");
    checkLoaderOptions(options);
    const { batchSize, prefetch = 2, seed = 0 } = options;
    if (options.augment) checkAugment(options.augment, "DataLoader");
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = options.shuffle;
    this.seed = seed;
    this.augment = options.augment ?? null;
    this.normalization = options.normalization;
    this.#prefetch = prefetch;
    this.#worker = options.worker ?? "auto";
  }

  /** Number of images. */
  get size(): number {
    return this.dataset.labels.length;
  }

  /** Batches per epoch: `ceil(size / batchSize)`, the last one partial when it does not divide. */
  get numBatches(): number {
    return Math.ceil(this.size / this.batchSize);
  }

  /** Epoch `epoch`'s sample order: a permutation keyed `(seed, epoch)`, or `0 … n-1` without shuffling. */
  order(epoch: number): Int32Array {
    checkEpoch(epoch);
    if (!this.shuffle) return Int32Array.from({ length: this.size }, (_, i) => i);
    return keyedRng(this.seed, epoch, ORDER_STREAM).permutation(this.size);
  }

  /**
   * Epoch `epoch`'s batches, prepared in a background worker that always has the next ones in flight (the caller's
   * step may be synchronous CPU work). Breaking out of the loop, or an error, terminates the worker.
   */
  async *epoch(epoch: number, options: EpochOptions = {}): AsyncGenerator<Batch, void, undefined> {
    const start = this.#checkStart(options);
    const spec = this.#spec(epoch);
    if (!this.#useWorker()) {
      for (let i = start; i < this.numBatches; i++) yield prepareBatch(spec, i);
      return;
    }
    yield* this.#fromWorker({ ...spec, images: this.#shared() }, start);
  }

  /** Epoch `epoch`'s batches built on the calling thread: the same batches {@linkcode DataLoader.epoch} yields. */
  *epochSync(epoch: number, options: EpochOptions = {}): Generator<Batch, void, undefined> {
    const start = this.#checkStart(options);
    const spec = this.#spec(epoch);
    for (let i = start; i < this.numBatches; i++) yield prepareBatch(spec, i);
  }

  #fromWorker(spec: EpochSpec, start: number): AsyncGenerator<Batch, void, undefined> {
    return workerBatches<WorkerRequest>({
      url: WORKER_URL,
      name: "batch worker",
      workers: 1,
      init: { type: "init", spec },
      request: (index) => ({ type: "batch", index }),
      start,
      end: this.numBatches,
      prefetch: this.#prefetch,
    });
  }

  #spec(epoch: number): EpochSpec {
    const { images, labels } = this.dataset;
    return {
      images,
      labels,
      order: this.order(epoch),
      batchSize: this.batchSize,
      augment: this.augment,
      normalization: this.normalization,
      seed: this.seed,
      epoch,
    };
  }

  #checkStart(options: EpochOptions): number {
    checkEpochOptions(options);
    const { startBatch = 0 } = options;
    if (!Number.isInteger(startBatch) || startBatch < 0 || startBatch > this.numBatches) {
      throw new RangeError(`DataLoader: startBatch must be an integer in [0, ${this.numBatches}], got ${startBatch}`);
    }
    return startBatch;
  }

  #useWorker(): boolean {
    if (this.#worker !== "auto") return this.#worker;
    if (typeof Worker !== "function") return false;
    if (WORKER_URL.protocol !== "file:") return true;
    try {
      return Deno.permissions.querySync({ name: "read", path: WORKER_URL }).state === "granted";
    } catch {
      return false;
    }
  }

  /** The pixels in shared memory, copied there once if the data set's are not already. */
  #shared(): Uint8Array {
    const images = this.dataset.images;
    if (typeof SharedArrayBuffer !== "function" || images.buffer instanceof SharedArrayBuffer) return images;
    if (!this.#sharedImages) {
      this.#sharedImages = sharedBytes(images.length);
      this.#sharedImages.set(images);
    }
    return this.#sharedImages;
  }
}

function checkEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 0) {
    throw new RangeError(`DataLoader: epoch must be a non-negative integer, got ${epoch}`);
  }
}
