/**
 * Single-precision GEMM on typed arrays: `C = op(A) · op(B)` (or `C += …`), row-major, contiguous.
 *
 * A 4×4 register-blocked micro-kernel over packed panels: both operands are repacked so the inner loop
 * reads two short contiguous runs, which is what lets V8 keep the sixteen accumulators in registers.
 * Packing also absorbs the transposes, so every combination runs the same kernel.
 *
 * @module
 */

const MR = 4;
const NR = 4;

let packA: Float32Array = new Float32Array(0);
let packB: Float32Array = new Float32Array(0);

function scratch(current: Float32Array, size: number): Float32Array {
  return current.length >= size ? current : new Float32Array(Math.max(size, current.length * 2));
}

/** Operands of {@linkcode gemm}: arrays with element offsets of the first element. */
export interface GemmOperands {
  readonly a: Float32Array;
  readonly aOffset: number;
  readonly b: Float32Array;
  readonly bOffset: number;
  readonly c: Float32Array;
  readonly cOffset: number;
}

/**
 * `C[m,n] (+)= op(A)[m,k] · op(B)[k,n]`. With `transA`, A is stored `[k, m]`; with `transB`, B is stored
 * `[n, k]`. `accumulate` adds to C instead of overwriting it.
 */
export function gemm(
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  o: GemmOperands,
  accumulate: boolean,
): void {
  const { a, aOffset, b, bOffset, c, cOffset } = o;
  if (k === 0) {
    if (!accumulate) c.fill(0, cOffset, cOffset + m * n);
    return;
  }
  const mBlocks = Math.ceil(m / MR);
  packA = scratch(packA, mBlocks * MR * k);
  packB = scratch(packB, NR * k);
  const ap = packA;
  const bp = packB;
  // A packed as [mBlock][k][MR], zero-padded past m.
  for (let ib = 0; ib < mBlocks; ib++) {
    const base = ib * MR * k;
    for (let r = 0; r < MR; r++) {
      const i = ib * MR + r;
      if (i >= m) {
        for (let p = 0; p < k; p++) ap[base + p * MR + r] = 0;
      } else if (transA) {
        for (let p = 0; p < k; p++) ap[base + p * MR + r] = a[aOffset + p * m + i];
      } else {
        const row = aOffset + i * k;
        for (let p = 0; p < k; p++) ap[base + p * MR + r] = a[row + p];
      }
    }
  }
  for (let j = 0; j < n; j += NR) {
    const cols = Math.min(NR, n - j);
    // B panel packed as [k][NR], zero-padded past n.
    for (let t = 0; t < NR; t++) {
      if (t >= cols) {
        for (let p = 0; p < k; p++) bp[p * NR + t] = 0;
      } else if (transB) {
        const row = bOffset + (j + t) * k;
        for (let p = 0; p < k; p++) bp[p * NR + t] = b[row + p];
      } else {
        for (let p = 0; p < k; p++) bp[p * NR + t] = b[bOffset + p * n + j + t];
      }
    }
    for (let ib = 0; ib < mBlocks; ib++) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      const base = ib * MR * k;
      const end = k * NR;
      for (let q = 0; q < end; q += 4) {
        const b0 = bp[q], b1 = bp[q + 1], b2 = bp[q + 2], b3 = bp[q + 3];
        const x0 = ap[base + q], x1 = ap[base + q + 1], x2 = ap[base + q + 2], x3 = ap[base + q + 3];
        c00 += x0 * b0, c01 += x0 * b1, c02 += x0 * b2, c03 += x0 * b3;
        c10 += x1 * b0, c11 += x1 * b1, c12 += x1 * b2, c13 += x1 * b3;
        c20 += x2 * b0, c21 += x2 * b1, c22 += x2 * b2, c23 += x2 * b3;
        c30 += x3 * b0, c31 += x3 * b1, c32 += x3 * b2, c33 += x3 * b3;
      }
      const i0 = ib * MR;
      const rows = Math.min(MR, m - i0);
      if (rows === MR && cols === NR) {
        let o = cOffset + i0 * n + j;
        if (accumulate) {
          c[o] += c00, c[o + 1] += c01, c[o + 2] += c02, c[o + 3] += c03, o += n;
          c[o] += c10, c[o + 1] += c11, c[o + 2] += c12, c[o + 3] += c13, o += n;
          c[o] += c20, c[o + 1] += c21, c[o + 2] += c22, c[o + 3] += c23, o += n;
          c[o] += c30, c[o + 1] += c31, c[o + 2] += c32, c[o + 3] += c33;
        } else {
          c[o] = c00, c[o + 1] = c01, c[o + 2] = c02, c[o + 3] = c03, o += n;
          c[o] = c10, c[o + 1] = c11, c[o + 2] = c12, c[o + 3] = c13, o += n;
          c[o] = c20, c[o + 1] = c21, c[o + 2] = c22, c[o + 3] = c23, o += n;
          c[o] = c30, c[o + 1] = c31, c[o + 2] = c32, c[o + 3] = c33;
        }
      } else {
        const tile = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
        for (let r = 0; r < rows; r++) {
          const o = cOffset + (i0 + r) * n + j;
          for (let t = 0; t < cols; t++) c[o + t] = accumulate ? c[o + t] + tile[r * 4 + t] : tile[r * 4 + t];
        }
      }
    }
  }
}
