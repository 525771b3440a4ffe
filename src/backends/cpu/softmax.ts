/**
 * Row-wise log-softmax on typed arrays, max-shifted and summed in double precision.
 *
 * @module
 */

/** `out = log_softmax(x)` row by row for rows `[lo, hi)` (all by default) of `x [rows, cols]`. */
export function logSoftmax(
  x: Float32Array,
  rows: number,
  cols: number,
  out: Float32Array,
  lo = 0,
  hi: number = rows,
): void {
  for (let r = lo; r < hi; r++) {
    const base = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (x[base + j] > max) max = x[base + j];
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[base + j] - max);
    const lse = max + Math.log(s);
    for (let j = 0; j < cols; j++) out[base + j] = x[base + j] - lse;
  }
}
