/**
 * One attention panel: a map upsampled to the picture, coloured, and laid over a gray copy of the image.
 *
 * @module
 */
import { COLORMAP_LEVELS, type ColormapName, colormapTable } from "./colormap.ts";
import type { RgbImage } from "./image.ts";
import { resample } from "./resize.ts";

/** A map on the host: `values` is `[height, width]`, row-major. */
export interface MapPlane {
  readonly height: number;
  readonly width: number;
  readonly values: Float32Array;
}

/** Options of {@linkcode overlay}. */
export interface OverlayOptions {
  /** The values shown as the coldest and the hottest colour; values outside are clamped. */
  readonly range: readonly [number, number];
  /** Weight of the colour against the gray image, in [0, 1]; default 0.6 (1: the map alone). */
  readonly opacity?: number;
  /** Default `"inferno"`. */
  readonly colormap?: ColormapName;
}

/**
 * The map upsampled to `width × height` with {@linkcode resample} (bilinear, as `F.interpolate`).
 *
 * @example
 * ```ts
 * const plane = upsampleMap({ height: 8, width: 8, values }, 128, 128); // Float32Array of 128 * 128
 * ```
 */
export function upsampleMap(map: MapPlane, width: number, height: number): Float32Array {
  return resample(map.values, map.height, map.width, height, width);
}

/**
 * The smallest and largest value over some planes, for a colour scale they share.
 *
 * @example
 * ```ts
 * const range = valueRange([student, teacher]);
 * ```
 */
export function valueRange(planes: readonly Float32Array[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of planes) {
    for (const v of p) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    throw new RangeError(`valueRange: the maps hold non-finite values (range ${lo} to ${hi})`);
  }
  return [lo, hi];
}

/**
 * Colours `plane` (the image's size, from {@linkcode upsampleMap}) and blends it over the image turned gray:
 * `(1 − opacity) · gray + opacity · colour`. A flat range (`lo = hi`) shows the coldest colour.
 *
 * @example
 * ```ts
 * const panel = overlay(image, upsampleMap(map, image.width, image.height), { range: [0, 1], opacity: 0.6 });
 * ```
 */
export function overlay(image: RgbImage, plane: Float32Array, options: OverlayOptions): RgbImage {
  const { range: [lo, hi], opacity = 0.6, colormap = "inferno" } = options;
  if (!(opacity >= 0 && opacity <= 1)) throw new RangeError(`overlay: opacity must be in [0, 1], got ${opacity}`);
  const n = image.width * image.height;
  if (plane.length !== n) {
    throw new RangeError(`overlay: the map has ${plane.length} values but the image ${image.width}×${image.height}`);
  }
  const lut = colormapTable(colormap);
  const scale = hi > lo ? (COLORMAP_LEVELS - 1) / (hi - lo) : 0;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const r = image.data[i * 3];
    const g = image.data[i * 3 + 1];
    const b = image.data[i * 3 + 2];
    const gray = (1 - opacity) * (0.299 * r + 0.587 * g + 0.114 * b);
    const level = Math.min(COLORMAP_LEVELS - 1, Math.max(0, Math.round((plane[i] - lo) * scale)));
    for (let c = 0; c < 3; c++) data[i * 3 + c] = Math.round(gray + opacity * lut[level * 3 + c]);
  }
  return { width: image.width, height: image.height, data };
}
