/**
 * Training augmentation and batch assembly as in the reference `cifar.py`: reflect-pad by `pad` (its
 * `randomcrop_pad`, 4), random horizontal flip with probability 0.5, random 32 × 32 crop, then per-channel
 * normalisation; test batches are normalised only. The flip and the crop are drawn in torchvision's order
 * (`Pad → RandomHorizontalFlip → RandomCrop`), one image after another, from the generator passed in.
 *
 * @module
 */
import type { Rng } from "../rng.ts";
import { IMAGE_BYTES, IMAGE_CHANNELS, IMAGE_SIZE } from "./dataset.ts";
import type { Normalization } from "./normalization.ts";

/** Training augmentation: reflect padding (0: no crop) and whether to flip horizontally. */
export interface AugmentOptions {
  /** Reflect padding on every side before the random 32 × 32 crop; 0 turns the crop off. */
  readonly pad: number;
  /** Random horizontal flip with probability 0.5 (off for digits). */
  readonly flip: boolean;
}

/**
 * The reference `cifar.py` augmentation: pad 4 (reflect), flip, crop.
 *
 * @example
 * ```ts
 * const loader = new DataLoader(train, { batchSize: 128, seed: 1, augment: CIFAR_AUGMENT, normalization });
 * ```
 */
export const CIFAR_AUGMENT: AugmentOptions = Object.freeze({ pad: 4, flip: true });

/** One image's random choices: flip or not, and the crop's top-left corner in padded coordinates. */
export interface AugmentDraw {
  readonly flip: boolean;
  readonly top: number;
  readonly left: number;
}

/**
 * A batch ready for the network: `images` `[b, 3, 32, 32]` float32 (normalised; `[b, 3, size, size]` from the
 * `ImageFolderLoader`), `labels` `[b]`, and `index`, the batch's position in its epoch.
 */
export interface Batch {
  readonly images: Float32Array<ArrayBuffer>;
  readonly labels: Int32Array<ArrayBuffer>;
  readonly index: number;
}

/**
 * Index `i` of a padded axis mapped back onto `[0, n)` by reflection without repeating the edge (numpy's and
 * torch's `"reflect"`): `-1 → 1`, `n → n - 2`.
 *
 * @example
 * ```ts
 * reflectIndex(-2, 32); // 2
 * reflectIndex(33, 32); // 29
 * ```
 */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

/**
 * Reflect padding of one `[c, h, w]` uint8 image by `pad` on every side: `[c, h + 2·pad, w + 2·pad]`. The
 * reference for what the fused crop in {@linkcode makeBatch} reads.
 *
 * @example
 * ```ts
 * reflectPad(Uint8Array.of(1, 2, 3, 4, 5, 6), [1, 2, 3], 1); // [5,4,5,6,5, 2,1,2,3,2, 5,4,5,6,5, 2,1,2,3,2]
 * ```
 */
export function reflectPad(image: Uint8Array, shape: readonly [number, number, number], pad: number): Uint8Array {
  const [c, h, w] = shape;
  if (image.length !== c * h * w) {
    throw new RangeError(
      `reflectPad: image has ${image.length} values but shape [${shape.join(", ")}] needs ${c * h * w}`,
    );
  }
  checkPad(pad, Math.min(h, w), "reflectPad");
  const ph = h + 2 * pad;
  const pw = w + 2 * pad;
  const out = new Uint8Array(c * ph * pw);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < ph; y++) {
      const sy = reflectIndex(y - pad, h);
      for (let x = 0; x < pw; x++) out[(ch * ph + y) * pw + x] = image[(ch * h + sy) * w + reflectIndex(x - pad, w)];
    }
  }
  return out;
}

/**
 * Draws one image's flip and crop from `rng`, in torchvision's order: `uniform() < 0.5` for the flip (only when
 * `flip` is on), then the crop's top and left, each uniform in `[0, 2·pad]` (only when `pad > 0`).
 *
 * @example
 * ```ts
 * const draw = drawAugmentation(new Rng(0), CIFAR_AUGMENT); // { flip: …, top: 0…8, left: 0…8 }
 * ```
 */
export function drawAugmentation(rng: Rng, options: AugmentOptions): AugmentDraw {
  checkPad(options.pad, IMAGE_SIZE, "drawAugmentation");
  const flip = options.flip ? rng.uniform() < 0.5 : false;
  if (options.pad === 0) return { flip, top: 0, left: 0 };
  const range = 2 * options.pad + 1;
  const top = rng.int(range);
  const left = rng.int(range);
  return { flip, top, left };
}

/**
 * One `[3, 32, 32]` uint8 image padded (reflect, `pad`), flipped and cropped as `draw` says, still uint8: the
 * same pixels {@linkcode makeBatch} normalises.
 *
 * @example
 * ```ts
 * const out = augmentImage(image, { flip: true, top: 4, left: 4 }, 4); // a pure horizontal flip
 * ```
 */
export function augmentImage(image: Uint8Array, draw: AugmentDraw, pad: number): Uint8Array {
  if (image.length !== IMAGE_BYTES) {
    throw new RangeError(`augmentImage: image has ${image.length} bytes, expected ${IMAGE_BYTES} ([3, 32, 32])`);
  }
  const { rows, cols } = sourceMaps(draw, pad);
  const out = new Uint8Array(IMAGE_BYTES);
  const plane = IMAGE_SIZE * IMAGE_SIZE;
  for (let c = 0; c < IMAGE_CHANNELS; c++) {
    for (let y = 0; y < IMAGE_SIZE; y++) {
      const src = c * plane + rows[y] * IMAGE_SIZE;
      const dst = c * plane + y * IMAGE_SIZE;
      for (let x = 0; x < IMAGE_SIZE; x++) out[dst + x] = image[src + cols[x]];
    }
  }
  return out;
}

/** Options of {@linkcode makeBatch}. */
export interface MakeBatchOptions {
  /** Per-channel constants applied after scaling pixels to [0, 1]. */
  readonly normalization: Normalization;
  /** Training augmentation, or `null` for test batches (normalisation only). */
  readonly augment: AugmentOptions | null;
  /** The generator the augmentation draws from (required when `augment` is set). */
  readonly rng?: Rng;
  /** The batch's position in its epoch, carried into the result. Default 0. */
  readonly index?: number;
}

/**
 * Assembles the images at `indices` of `images` (`[n, 3, 32, 32]` uint8) into one normalised float32 batch,
 * augmenting each in order with draws from `options.rng` when `options.augment` is set.
 *
 * @example
 * ```ts
 * const batch = makeBatch(train, Int32Array.of(4, 0, 9), { normalization: CIFAR_NORMALIZATION, augment: CIFAR_AUGMENT, rng: new Rng(1) });
 * batch.images.length; // 3 * 3072
 * ```
 */
export function makeBatch(
  dataset: { readonly images: Uint8Array; readonly labels: Int32Array },
  indices: ArrayLike<number>,
  options: MakeBatchOptions,
): Batch {
  const { augment, normalization } = options;
  if (augment && !options.rng) throw new TypeError("makeBatch: augment is set but no rng was given to draw from");
  const n = dataset.labels.length;
  const b = indices.length;
  const images = new Float32Array(b * IMAGE_BYTES);
  const labels = new Int32Array(b);
  const lut = normalizationTable(normalization);
  const plane = IMAGE_SIZE * IMAGE_SIZE;
  const px = dataset.images;
  const identity = sourceMaps({ flip: false, top: 0, left: 0 }, 0);
  for (let k = 0; k < b; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      throw new RangeError(`makeBatch: index ${i} at position ${k} is outside the data set's [0, ${n})`);
    }
    labels[k] = dataset.labels[i];
    const { rows, cols } = augment ? sourceMaps(drawAugmentation(options.rng!, augment), augment.pad) : identity;
    for (let c = 0; c < IMAGE_CHANNELS; c++) {
      const table = c * 256;
      for (let y = 0; y < IMAGE_SIZE; y++) {
        const src = i * IMAGE_BYTES + c * plane + rows[y] * IMAGE_SIZE;
        const dst = k * IMAGE_BYTES + c * plane + y * IMAGE_SIZE;
        for (let x = 0; x < IMAGE_SIZE; x++) images[dst + x] = lut[table + px[src + cols[x]]];
      }
    }
  }
  return { images, labels, index: options.index ?? 0 };
}

/** For each output row and column, the source row and column in the unpadded image. */
function sourceMaps(draw: AugmentDraw, pad: number): { rows: Int32Array; cols: Int32Array } {
  checkPad(pad, IMAGE_SIZE, "augment");
  const paddedWidth = IMAGE_SIZE + 2 * pad;
  const rows = new Int32Array(IMAGE_SIZE);
  const cols = new Int32Array(IMAGE_SIZE);
  for (let y = 0; y < IMAGE_SIZE; y++) rows[y] = reflectIndex(draw.top + y - pad, IMAGE_SIZE);
  for (let x = 0; x < IMAGE_SIZE; x++) {
    // The flip acts on the padded image, before the crop.
    const px = draw.left + x;
    cols[x] = reflectIndex((draw.flip ? paddedWidth - 1 - px : px) - pad, IMAGE_SIZE);
  }
  return { rows, cols };
}

/**
 * `(v / 255 - mean[c]) / std[c]` for every byte `v` of every channel `c`: `[3 · 256]`, the lookup table every
 * batch is normalised through (shared with the ImageFolder path).
 */
export function normalizationTable({ mean, std }: Normalization): Float32Array {
  const lut = new Float32Array(IMAGE_CHANNELS * 256);
  for (let c = 0; c < IMAGE_CHANNELS; c++) {
    if (!(std[c] > 0)) throw new RangeError(`normalization: std[${c}] must be positive, got ${std[c]}`);
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - mean[c]) / std[c];
  }
  return lut;
}

/**
 * Checks training augmentation options before any batch is built (so a bad pad is reported where it was given,
 * not from inside the batch worker); `where` names the caller.
 */
export function checkAugment(options: AugmentOptions, where: string): void {
  checkPad(options.pad, IMAGE_SIZE, `${where}: augment`);
}

function checkPad(pad: number, size: number, where: string): void {
  if (!Number.isInteger(pad) || pad < 0 || pad >= size) {
    throw new RangeError(`${where}.pad must be an integer in [0, ${size - 1}] (reflect padding), got ${pad}`);
  }
}
