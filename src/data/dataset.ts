/**
 * The in-memory form every data set takes in this layer: 8-bit pixels in NCHW order and integer labels, on the
 * host. Networks see them only after {@linkcode makeBatch} turns a batch into normalised float32.
 *
 * @module
 */

/** Channels of every image here (gray images are replicated into three). */
export const IMAGE_CHANNELS = 3;
/** Height and width of every image here. */
export const IMAGE_SIZE = 32;
/** Bytes per image: 3 × 32 × 32. */
export const IMAGE_BYTES: number = IMAGE_CHANNELS * IMAGE_SIZE * IMAGE_SIZE;

/**
 * A labelled image set: `images` is `[n, 3, 32, 32]` uint8 (plane order R, G, B; row-major), `labels` is `[n]` in
 * `[0, numClasses)`. The pixels live in a `SharedArrayBuffer` where the reader allocated them, so the batch worker
 * reads them without a copy.
 *
 * @example
 * ```ts
 * const ds: ImageDataset = { images: new Uint8Array(2 * IMAGE_BYTES), labels: Int32Array.of(3, 7), numClasses: 10 };
 * ```
 */
export interface ImageDataset {
  /** `[n, 3, 32, 32]` pixels, 0–255. */
  readonly images: Uint8Array;
  /** `[n]` class indices. */
  readonly labels: Int32Array;
  /** Number of classes; every label is below it. */
  readonly numClasses: number;
}

/**
 * Zeroed bytes in a `SharedArrayBuffer` (a plain `ArrayBuffer` where shared memory is unavailable), so a worker
 * can read them without a copy.
 *
 * @example
 * ```ts
 * const images = sharedBytes(10 * IMAGE_BYTES);
 * ```
 */
export function sharedBytes(length: number): Uint8Array {
  if (typeof SharedArrayBuffer === "function") return new Uint8Array(new SharedArrayBuffer(length));
  return new Uint8Array(length);
}

/**
 * Checks that a data set's arrays agree with each other and with its class count; throws a `RangeError` that
 * names the first thing wrong.
 *
 * @example
 * ```ts
 * checkDataset({ images: new Uint8Array(IMAGE_BYTES), labels: Int32Array.of(0), numClasses: 10 }, "mine");
 * ```
 */
export function checkDataset(dataset: ImageDataset, name: string): void {
  const n = dataset.labels.length;
  if (dataset.images.length !== n * IMAGE_BYTES) {
    throw new RangeError(
      `${name}: images has ${dataset.images.length} bytes but ${n} labels need ${n * IMAGE_BYTES} ([${n}, 3, 32, 32])`,
    );
  }
  if (!Number.isInteger(dataset.numClasses) || dataset.numClasses < 1) {
    throw new RangeError(`${name}: numClasses must be a positive integer, got ${dataset.numClasses}`);
  }
  for (let i = 0; i < n; i++) {
    const y = dataset.labels[i];
    if (y < 0 || y >= dataset.numClasses) {
      throw new RangeError(`${name}: label ${y} of image ${i} is outside [0, ${dataset.numClasses})`);
    }
  }
}

/**
 * The first `n` images of a data set (all of them when `n` is 0 or at least its size), copied into shared memory.
 *
 * @example
 * ```ts
 * const small = firstImages(train, 2000); // quick experiments on a fixed subset
 * ```
 */
export function firstImages(dataset: ImageDataset, n: number): ImageDataset {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`firstImages: n must be a non-negative integer, got ${n}`);
  if (n === 0 || n >= dataset.labels.length) return dataset;
  const images = sharedBytes(n * IMAGE_BYTES);
  images.set(dataset.images.subarray(0, n * IMAGE_BYTES));
  return { images, labels: dataset.labels.slice(0, n), numClasses: dataset.numClasses };
}
