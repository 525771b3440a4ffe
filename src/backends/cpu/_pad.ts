/**
 * Zero padding of one image for the convolution kernels (`conv.ts`, `winograd.ts`), which read padded
 * planes so that their inner loops need no bounds checks.
 *
 * @module
 */

/**
 * Copies image `[channels, h, w]` at `src[srcOffset]` into `dst [channels, hp, wp]` at row `top`, column
 * `left` of each plane, zero elsewhere.
 */
export function padImage(
  src: Float32Array,
  srcOffset: number,
  channels: number,
  h: number,
  w: number,
  dst: Float32Array,
  hp: number,
  wp: number,
  top: number,
  left: number,
): void {
  dst.fill(0);
  for (let ch = 0; ch < channels; ch++) {
    for (let y = 0; y < h; y++) {
      const from = srcOffset + (ch * h + y) * w;
      const to = (ch * hp + top + y) * wp + left;
      for (let x = 0; x < w; x++) dst[to + x] = src[from + x];
    }
  }
}
