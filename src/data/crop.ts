/**
 * The geometry of torchvision's ImageNet transforms, as pure functions of the image size (and, for the random
 * crop, of a generator): where `RandomResizedCrop` cuts, the size `Resize(n)` scales to, and where `CenterCrop`
 * cuts. Python's `round` (half to even) and `int` (towards zero) are reproduced where torchvision uses them.
 *
 * @module
 */
import type { CropBox } from "./resample.ts";

/** The two draws a crop needs from a generator: an `Rng`, or a scripted stand-in in tests. */
export interface CropRng {
  /** Uniform in [0, 1). */
  uniform(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/** Options of {@linkcode randomResizedCropBox}: torchvision's defaults. */
export interface RandomResizedCropOptions {
  /** Range of the crop's area as a fraction of the image's. Default `[0.08, 1]`. */
  readonly scale?: readonly [number, number];
  /** Range of the crop's width / height, drawn log-uniformly. Default `[3/4, 4/3]`. */
  readonly ratio?: readonly [number, number];
}

const DEFAULT_SCALE = [0.08, 1] as const;
const DEFAULT_RATIO = [3 / 4, 4 / 3] as const;
/** Attempts before the central-crop fallback, as torchvision. */
const ATTEMPTS = 10;

/**
 * Python's `round(x)` for finite `x`: to the nearest integer, halves to the even neighbour (`round(2.5) == 2`).
 *
 * @example
 * ```ts
 * roundHalfEven(34.5); // 34
 * roundHalfEven(35.5); // 36
 * ```
 */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision's `RandomResizedCrop.get_params`: up to 10 times, draw an area fraction uniformly in `scale` and an
 * aspect ratio log-uniformly in `ratio`, round the crop's width `√(area·ratio)` and height `√(area/ratio)`, and
 * keep the first that fits, placed uniformly at random (top, then left); if none fits, the largest centred crop
 * whose ratio is clamped to `ratio`. Draw order per attempt: area, ratio; then top, left.
 *
 * @example
 * ```ts
 * const box = randomResizedCropBox(new Rng(1), 500, 375); // { top, left, height, width } inside 500 × 375
 * ```
 */
export function randomResizedCropBox(
  rng: CropRng,
  width: number,
  height: number,
  options: RandomResizedCropOptions = {},
): CropBox {
  checkImageSize(width, height, "randomResizedCropBox");
  const [scaleMin, scaleMax] = options.scale ?? DEFAULT_SCALE;
  const [ratioMin, ratioMax] = options.ratio ?? DEFAULT_RATIO;
  if (!(scaleMin > 0 && scaleMin <= scaleMax)) {
    throw new RangeError(`randomResizedCropBox: scale must be [min, max] with 0 < min ≤ max, got [${options.scale}]`);
  }
  if (!(ratioMin > 0 && ratioMin <= ratioMax)) {
    throw new RangeError(`randomResizedCropBox: ratio must be [min, max] with 0 < min ≤ max, got [${options.ratio}]`);
  }
  const area = width * height;
  const logMin = Math.log(ratioMin);
  const logMax = Math.log(ratioMax);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const target = area * (scaleMin + (scaleMax - scaleMin) * rng.uniform());
    const ratio = Math.exp(logMin + (logMax - logMin) * rng.uniform());
    const w = roundHalfEven(Math.sqrt(target * ratio));
    const h = roundHalfEven(Math.sqrt(target / ratio));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(height - h + 1);
      const left = rng.int(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  return fallbackCropBox(width, height, ratioMin, ratioMax);
}

/**
 * The crop {@linkcode randomResizedCropBox} falls back to after 10 failed attempts: the whole image when its
 * aspect ratio is within `[ratioMin, ratioMax]`, else the largest centred crop at the nearer bound.
 *
 * @example
 * ```ts
 * fallbackCropBox(1000, 100, 3 / 4, 4 / 3); // { top: 0, left: 433, height: 100, width: 133 }
 * ```
 */
export function fallbackCropBox(width: number, height: number, ratioMin: number, ratioMax: number): CropBox {
  checkImageSize(width, height, "fallbackCropBox");
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratioMin) h = roundHalfEven(w / ratioMin);
  else if (inRatio > ratioMax) w = roundHalfEven(h * ratioMax);
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/**
 * The size torchvision's `Resize(size)` (an int) scales an image to: the shorter side becomes `size`, the longer
 * `int(size · long / short)` (truncated, as torchvision's `_compute_resized_output_size`).
 *
 * @example
 * ```ts
 * resizedShorterSide(500, 375, 256); // { width: 341, height: 256 }
 * ```
 */
export function resizedShorterSide(width: number, height: number, size: number): { width: number; height: number } {
  checkImageSize(width, height, "resizedShorterSide");
  checkImageSize(size, size, "resizedShorterSide: size");
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

/**
 * Where torchvision's `CenterCrop(size)` cuts an image of `width × height` (at least `size` each way): top
 * `round((height − size) / 2)` and left likewise, with Python's rounding.
 *
 * @example
 * ```ts
 * centerCropBox(341, 256, 224); // { top: 16, left: 58, height: 224, width: 224 } (58.5 rounds to 58)
 * ```
 */
export function centerCropBox(width: number, height: number, size: number): CropBox {
  checkImageSize(width, height, "centerCropBox");
  if (!Number.isSafeInteger(size) || size < 1 || size > width || size > height) {
    throw new RangeError(`centerCropBox: size must be an integer in [1, ${Math.min(width, height)}], got ${size}`);
  }
  return {
    top: roundHalfEven((height - size) / 2),
    left: roundHalfEven((width - size) / 2),
    height: size,
    width: size,
  };
}

/**
 * The shorter side the evaluation transform resizes to before its centre crop of `size`: `round(size · 256 / 224)`,
 * the ratio of the reference recipe's `Resize(256)` + `CenterCrop(224)` (256 for 224; never a tie).
 *
 * @example
 * ```ts
 * evalResizeSize(224); // 256
 * evalResizeSize(128); // 146
 * ```
 */
export function evalResizeSize(size: number): number {
  checkImageSize(size, size, "evalResizeSize: size");
  return Math.round((size * 256) / 224);
}

function checkImageSize(width: number, height: number, where: string): void {
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`${where} must be positive integers, got ${width} × ${height}`);
  }
}
