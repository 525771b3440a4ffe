/**
 * Bilinear resizing exactly as Pillow's `Image.resize(size, Image.BILINEAR)` computes it for 8-bit RGB
 * (`libImaging/Resample.c`), which is what torchvision's `Resize`, `RandomResizedCrop` and `CenterCrop` run on PIL
 * images:
 *
 * - a triangle filter whose support grows with the downscale factor: output pixel `i` of an axis scaled by
 *   `s = in / out` covers the source pixels whose centres lie within `max(s, 1)` of its centre `(i + 0.5)·s`,
 *   weighted `1 − |d| / max(s, 1)` and renormalised to sum 1 (so a downscale averages every source pixel it covers:
 *   the "antialias" of torchvision; an upscale is plain bilinear interpolation). Pixels past the image's edge get no
 *   weight, and the weights of the others are renormalised.
 * - weights rounded to 22-bit fixed point, sums started at ½ and truncated, then clamped to 0–255;
 * - two passes, horizontal first, each rounded to 8 bits, as Pillow does.
 *
 * With the same arithmetic in the same order the output is identical to Pillow's, byte for byte
 * (`tests/data_resample_test.ts` compares against Pillow's own output). Pillow-SIMD rounds differently and may
 * differ by 1.
 *
 * @module
 */
import { checkRgbImage, type RgbImage } from "./rgb_image.ts";

/** A rectangle of pixels: rows `[top, top + height)`, columns `[left, left + width)`. */
export interface CropBox {
  /** First row. */
  readonly top: number;
  /** First column. */
  readonly left: number;
  /** Rows. */
  readonly height: number;
  /** Columns. */
  readonly width: number;
}

/** Options of {@linkcode resizeBilinear}. */
export interface ResizeOptions {
  /** Output width of the whole resized image. */
  readonly width: number;
  /** Output height of the whole resized image. */
  readonly height: number;
  /** The part of the source to resize, as if cropped first (PIL's `crop(box).resize(…)`). Default: all of it. */
  readonly box?: CropBox;
  /** The part of the resized image to return (a crop after the resize, computed alone). Default: all of it. */
  readonly window?: CropBox;
}

/** Bits after the binary point of Pillow's fixed-point weights (`PRECISION_BITS = 32 - 8 - 2`). */
const PRECISION_BITS = 22;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

/**
 * `image` cropped to `box`, resized to `width × height` with Pillow's bilinear filter, then cropped to `window`:
 * PIL's `image.crop(box).resize((width, height), Image.BILINEAR).crop(window)`, byte for byte. Only the window's
 * pixels are computed (each output pixel depends on its own source neighbourhood only).
 *
 * @example
 * ```ts
 * // torchvision's Resize(256) then CenterCrop(224) of a 500 × 375 image:
 * const out = resizeBilinear(image, { width: 341, height: 256, window: { top: 16, left: 58, height: 224, width: 224 } });
 * ```
 */
export function resizeBilinear(image: RgbImage, options: ResizeOptions): RgbImage {
  checkRgbImage(image, "resizeBilinear");
  const { width, height } = options;
  checkSize(width, height, "resizeBilinear: output");
  const box = options.box ?? { top: 0, left: 0, height: image.height, width: image.width };
  checkBox(box, image.width, image.height, "resizeBilinear: box", "the image");
  const window = options.window ?? { top: 0, left: 0, height, width };
  checkBox(window, width, height, "resizeBilinear: window", "the output");

  const horizontal = coefficients(box.width, width, window.left, window.width);
  const vertical = coefficients(box.height, height, window.top, window.height);
  // Source rows (relative to the box) the vertical pass reads: the horizontal pass computes only those.
  const first = vertical.bounds[0];
  const last = vertical.bounds[2 * (window.height - 1)] + vertical.bounds[2 * window.height - 1];
  const rows = horizontalPass(image, box, horizontal, first, last, window.width);
  const data = verticalPass(rows, vertical, first, window.width, window.height);
  return { data, width: window.width, height: window.height };
}

/** Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for outputs `[start, start + count)` of an axis. */
interface Coefficients {
  /** Per output: first source index, number of taps. */
  readonly bounds: Int32Array;
  /** `[count, taps]` fixed-point weights. */
  readonly weights: Int32Array;
  readonly taps: number;
}

function coefficients(inSize: number, outSize: number, start: number, count: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle's support is 1 source pixel at scale 1
  const taps = Math.ceil(support) * 2 + 1;
  const inverse = 1 / filterScale;
  const bounds = new Int32Array(2 * count);
  const weights = new Int32Array(count * taps);
  const w = new Float64Array(taps);
  for (let i = 0; i < count; i++) {
    const center = (start + i + 0.5) * scale;
    // C's (int) cast truncates towards zero, then the range is clipped to the axis.
    const min = Math.max(0, Math.trunc(center - support + 0.5));
    const n = Math.min(inSize, Math.trunc(center + support + 0.5)) - min;
    let sum = 0;
    for (let x = 0; x < n; x++) {
      w[x] = triangle((x + min - center + 0.5) * inverse);
      sum += w[x];
    }
    for (let x = 0; x < n; x++) {
      const normalised = sum !== 0 ? w[x] / sum : w[x];
      weights[i * taps + x] = Math.trunc(0.5 + normalised * ONE); // weights are ≥ 0: (int)(0.5 + w · 2^22)
    }
    bounds[2 * i] = min;
    bounds[2 * i + 1] = n;
  }
  return { bounds, weights, taps };
}

function triangle(x: number): number {
  const a = x < 0 ? -x : x;
  return a < 1 ? 1 - a : 0;
}

/** Pillow's `clip8`: the fixed-point sum's integer part, clamped to a byte. */
function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Rows `[first, last)` of the box resampled horizontally to the window's columns, 8-bit. */
function horizontalPass(
  image: RgbImage,
  box: CropBox,
  { bounds, weights, taps }: Coefficients,
  first: number,
  last: number,
  outWidth: number,
): Uint8Array {
  const src = image.data;
  const out = new Uint8Array((last - first) * outWidth * 3);
  for (let r = first; r < last; r++) {
    const rowStart = ((box.top + r) * image.width + box.left) * 3;
    const outRow = (r - first) * outWidth * 3;
    for (let i = 0; i < outWidth; i++) {
      const n = bounds[2 * i + 1];
      let p = rowStart + bounds[2 * i] * 3;
      let k = i * taps;
      let s0 = HALF, s1 = HALF, s2 = HALF;
      for (let x = 0; x < n; x++, p += 3, k++) {
        const w = weights[k];
        s0 += src[p] * w;
        s1 += src[p + 1] * w;
        s2 += src[p + 2] * w;
      }
      const o = outRow + i * 3;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return out;
}

/** The window's rows from the horizontally resampled rows (row `first` of the box is row 0 of `rows`), 8-bit. */
function verticalPass(
  rows: Uint8Array,
  { bounds, weights, taps }: Coefficients,
  first: number,
  outWidth: number,
  outHeight: number,
): Uint8Array {
  const stride = outWidth * 3;
  const out = new Uint8Array(outHeight * stride);
  for (let j = 0; j < outHeight; j++) {
    const top = (bounds[2 * j] - first) * stride;
    const n = bounds[2 * j + 1];
    const k0 = j * taps;
    const outRow = j * stride;
    for (let c = 0; c < stride; c++) {
      let s = HALF;
      for (let y = 0, p = top + c; y < n; y++, p += stride) s += rows[p] * weights[k0 + y];
      out[outRow + c] = clip8(s);
    }
  }
  return out;
}

function checkSize(width: number, height: number, where: string): void {
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`${where} size must be positive integers, got ${width} × ${height}`);
  }
}

function checkBox(box: CropBox, width: number, height: number, where: string, what: string): void {
  const { top, left } = box;
  checkSize(box.width, box.height, where);
  if (
    !Number.isSafeInteger(top) || !Number.isSafeInteger(left) || top < 0 || left < 0 ||
    top + box.height > height || left + box.width > width
  ) {
    throw new RangeError(
      `${where} {top: ${top}, left: ${left}, height: ${box.height}, width: ${box.width}} is not inside ${what} ` +
        `(${width} × ${height})`,
    );
  }
}
