/**
 * Per-channel normalisation constants, in units of the pixel scaled to [0, 1] (as torchvision's `ToTensor`
 * then `Normalize`): `x = (pixel / 255 - mean[c]) / std[c]`.
 *
 * @module
 */
import { IMAGE_BYTES, IMAGE_CHANNELS, type ImageDataset } from "./dataset.ts";

/** Mean and standard deviation per channel (R, G, B), in [0, 1] pixel units. */
export interface Normalization {
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

/**
 * The reference `cifar.py` constants, used for CIFAR-10 and CIFAR-100 alike: mean `[125.3, 123.0, 113.9] / 255`,
 * std `[63.0, 62.1, 66.7] / 255`.
 *
 * @example
 * ```ts
 * const x = (200 / 255 - CIFAR_NORMALIZATION.mean[0]) / CIFAR_NORMALIZATION.std[0];
 * ```
 */
export const CIFAR_NORMALIZATION: Normalization = Object.freeze({
  mean: Object.freeze([125.3 / 255, 123.0 / 255, 113.9 / 255] as const),
  std: Object.freeze([63.0 / 255, 62.1 / 255, 66.7 / 255] as const),
});

/**
 * torchvision's ImageNet constants (the reference `imagenet.py`): mean `[0.485, 0.456, 0.406]`, std
 * `[0.229, 0.224, 0.225]`.
 *
 * @example
 * ```ts
 * const loader = new ImageFolderLoader(train, { batchSize: 256, train: true, normalization: IMAGENET_NORMALIZATION });
 * ```
 */
export const IMAGENET_NORMALIZATION: Normalization = Object.freeze({
  mean: Object.freeze([0.485, 0.456, 0.406] as const),
  std: Object.freeze([0.229, 0.224, 0.225] as const),
});

/**
 * The mean and population standard deviation of each channel over every pixel of every image, in [0, 1] units:
 * what a data set without published constants (MNIST here) is normalised with.
 *
 * @example
 * ```ts
 * const { mean, std } = channelStats(mnist.train);
 * ```
 */
export function channelStats(dataset: ImageDataset): Normalization {
  const plane = IMAGE_BYTES / IMAGE_CHANNELS;
  const n = dataset.labels.length;
  if (n === 0) throw new RangeError("channelStats: the data set has no images");
  const sum = [0, 0, 0];
  const sumSq = [0, 0, 0];
  const px = dataset.images;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < IMAGE_CHANNELS; c++) {
      // Integer sums per plane stay exact; at most 1024 · 255² per plane.
      let s = 0;
      let s2 = 0;
      const base = i * IMAGE_BYTES + c * plane;
      for (let k = 0; k < plane; k++) {
        const v = px[base + k];
        s += v;
        s2 += v * v;
      }
      sum[c] += s;
      sumSq[c] += s2;
    }
  }
  const count = n * plane;
  const mean = sum.map((s) => s / count / 255);
  const std = sumSq.map((s2, c) => Math.sqrt(Math.max(0, s2 / count / 255 ** 2 - mean[c] ** 2)));
  return { mean: [mean[0], mean[1], mean[2]], std: [std[0], std[1], std[2]] };
}
