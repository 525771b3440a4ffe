/**
 * Resampling a plane of floats: separable triangle (bilinear) filter.
 *
 * @module
 */

/**
 * Resamples `plane` (`[h, w]`, row-major) to `[outH, outW]` with a triangle filter along each axis. Enlarging, this
 * is bilinear interpolation between pixel centres, clamped at the borders: PyTorch's
 * `F.interpolate(x, size, mode="bilinear", align_corners=False)`. Shrinking, the triangle widens by the factor, so each
 * output pixel is a weighted mean of all the input pixels near it (as PIL's bilinear resize) instead of aliasing.
 *
 * @example
 * ```ts
 * resample(Float32Array.of(1, 2, 3, 4), 2, 2, 4, 4); // row 0: 1, 1.25, 1.75, 2
 * ```
 */
export function resample(plane: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  for (const [name, v] of [["h", h], ["w", w], ["outH", outH], ["outW", outW]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`resample: ${name} must be a positive integer, got ${v}`);
  }
  if (plane.length !== h * w) throw new RangeError(`resample: [${h}, ${w}] needs ${h * w} values, got ${plane.length}`);
  const rows = weights(h, outH);
  const cols = weights(w, outW);
  // Columns first: [h, outW], then rows: [outH, outW].
  const mid = new Float32Array(h * outW);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < outW; x++) {
      const { start, taps } = cols[x];
      let s = 0;
      for (let k = 0; k < taps.length; k++) s += taps[k] * plane[y * w + start + k];
      mid[y * outW + x] = s;
    }
  }
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const { start, taps } = rows[y];
    for (let x = 0; x < outW; x++) {
      let s = 0;
      for (let k = 0; k < taps.length; k++) s += taps[k] * mid[(start + k) * outW + x];
      out[y * outW + x] = s;
    }
  }
  return out;
}

/** For each output index, the first input index it reads and the normalised weights of the inputs from there. */
function weights(n: number, outN: number): { start: number; taps: Float64Array }[] {
  const scale = n / outN;
  const support = Math.max(1, scale);
  const out: { start: number; taps: Float64Array }[] = [];
  for (let i = 0; i < outN; i++) {
    // Input coordinate of the output pixel's centre, in units where input pixel j covers [j, j + 1).
    const centre = (i + 0.5) * scale;
    const start = Math.max(0, Math.floor(centre - support));
    const end = Math.min(n, Math.ceil(centre + support));
    const taps = new Float64Array(end - start);
    let total = 0;
    for (let j = start; j < end; j++) {
      const t = Math.max(0, 1 - Math.abs(j + 0.5 - centre) / support);
      taps[j - start] = t;
      total += t;
    }
    for (let k = 0; k < taps.length; k++) taps[k] /= total;
    out.push({ start, taps });
  }
  return out;
}
