/**
 * The reference ImageNet transforms on decoded RGB images, before `ToTensor` and `Normalize`:
 *
 * - training: `RandomResizedCrop(size)` (scale 0.08–1, ratio 3/4–4/3, bilinear) then `RandomHorizontalFlip()`;
 * - evaluation: `Resize(round(size · 256 / 224))` (the shorter side) then `CenterCrop(size)`.
 *
 * The resampling is Pillow's bilinear filter ({@linkcode resizeBilinear}), so on the same decoded pixels and the
 * same crop box these give torchvision-on-PIL's bytes exactly.
 *
 * @module
 */
import { centerCropBox, type CropRng, evalResizeSize, randomResizedCropBox, resizedShorterSide } from "./crop.ts";
import { resizeBilinear } from "./resample.ts";
import { checkRgbImage, flipHorizontal, type RgbImage } from "./rgb_image.ts";

/** The reference recipe's image size (the network's input is `size × size`). */
export const IMAGENET_IMAGE_SIZE = 224;

/**
 * `RandomResizedCrop(size)` then `RandomHorizontalFlip()`: a crop box drawn by {@linkcode randomResizedCropBox},
 * resized to `size × size`, then mirrored when the next `rng.uniform()` is below 0.5 (torchvision's order of
 * draws).
 *
 * @example
 * ```ts
 * const out = trainTransform(image, 224, keyedRng(seed, epoch, IMAGE_STREAM, batch, k)); // 224 × 224
 * ```
 */
export function trainTransform(image: RgbImage, size: number, rng: CropRng): RgbImage {
  checkRgbImage(image, "trainTransform");
  checkSize(size, "trainTransform");
  const box = randomResizedCropBox(rng, image.width, image.height);
  const out = resizeBilinear(image, { box, width: size, height: size });
  return rng.uniform() < 0.5 ? flipHorizontal(out) : out;
}

/**
 * `Resize(round(size · 256 / 224))` then `CenterCrop(size)`: the shorter side scaled to 256 for 224, and the
 * central `size × size` of that (only those pixels are computed).
 *
 * @example
 * ```ts
 * const out = evalTransform(image, 224); // 224 × 224
 * ```
 */
export function evalTransform(image: RgbImage, size: number): RgbImage {
  checkRgbImage(image, "evalTransform");
  checkSize(size, "evalTransform");
  const { width, height } = resizedShorterSide(image.width, image.height, evalResizeSize(size));
  return resizeBilinear(image, { width, height, window: centerCropBox(width, height, size) });
}

function checkSize(size: number, where: string): void {
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new RangeError(`${where}: size must be a positive integer, got ${size}`);
  }
}
