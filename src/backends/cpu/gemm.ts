/**
 * Single-precision GEMM on typed arrays: `C = op(A) · op(B)` (or `C += …`), row-major, contiguous.
 *
 * A 4×4 register-blocked micro-kernel over packed panels: both operands are repacked so the inner loop
 * reads two short contiguous runs, which lets V8 keep the sixteen accumulators in registers. Packing also
 * absorbs the transposes, so every combination runs the same kernel. Each element of C is one dot product
 * accumulated in double precision over `p = 0 … k−1` in order and rounded once, so cutting the columns of
 * C between threads changes nothing in the result.
 *
 * @module
 */
import { type Claim, sequential } from "./_partition.ts";
import { scratchF32, Slot } from "./_scratch.ts";

const MR = 4;
const NR = 4;
/** The columns of C are cut into at most this many units. */
const UNITS = 64;

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
 * `[n, k]`. `accumulate` adds to C instead of overwriting it. Computes the units of columns `claim` hands
 * out (runs of 4-column panels); the default is all of C.
 *
 * @example
 * ```ts
 * const c = new Float32Array(2 * 2);
 * gemm(2, 2, 3, false, false, { a, aOffset: 0, b, bOffset: 0, c, cOffset: 0 }, false);
 * ```
 */
export function gemm(
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  o: GemmOperands,
  accumulate: boolean,
  claim: Claim = sequential(),
): void {
  const { a, aOffset, b, bOffset, c, cOffset } = o;
  const panels = Math.ceil(n / NR), perUnit = Math.ceil(panels / UNITS);
  if (panels === 0 || m === 0) return;
  const mBlocks = Math.ceil(m / MR);
  // A packed [mBlock][k][MR], zero-padded past m.
  const ap = scratchF32(Slot.packA, mBlocks * MR * k);
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
  const bp = scratchF32(Slot.packB, NR * k);
  for (let u = claim(); u * perUnit < panels; u = claim()) {
    for (let j = u * perUnit * NR; j < Math.min(n, (u + 1) * perUnit * NR); j += NR) {
      panel(m, n, k, transB, b, bOffset, c, cOffset, accumulate, ap, bp, j);
    }
  }
}

/** Packs the B panel of columns `[j, j + 4)` and computes those columns of C. */
function panel(
  m: number,
  n: number,
  k: number,
  transB: boolean,
  b: Float32Array,
  bOffset: number,
  c: Float32Array,
  cOffset: number,
  accumulate: boolean,
  ap: Float32Array,
  bp: Float32Array,
  j: number,
): void {
  const mBlocks = Math.ceil(m / MR);
  const cols = Math.min(NR, n - j);
  // B panel packed [k][NR], zero-padded past n.
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
    for (let q = 0, pa = ib * MR * k, end = k * NR; q < end; q += NR, pa += MR) {
      const b0 = bp[q], b1 = bp[q + 1], b2 = bp[q + 2], b3 = bp[q + 3];
      const x0 = ap[pa], x1 = ap[pa + 1], x2 = ap[pa + 2], x3 = ap[pa + 3];
      c00 += x0 * b0, c01 += x0 * b1, c02 += x0 * b2, c03 += x0 * b3;
      c10 += x1 * b0, c11 += x1 * b1, c12 += x1 * b2, c13 += x1 * b3;
      c20 += x2 * b0, c21 += x2 * b1, c22 += x2 * b2, c23 += x2 * b3;
      c30 += x3 * b0, c31 += x3 * b1, c32 += x3 * b2, c33 += x3 * b3;
    }
    const i0 = ib * MR;
    const rows = Math.min(MR, m - i0);
    const o = cOffset + i0 * n + j;
    if (rows === MR && cols === NR && !accumulate) {
      c[o] = c00, c[o + 1] = c01, c[o + 2] = c02, c[o + 3] = c03;
      c[o + n] = c10, c[o + n + 1] = c11, c[o + n + 2] = c12, c[o + n + 3] = c13;
      c[o + 2 * n] = c20, c[o + 2 * n + 1] = c21, c[o + 2 * n + 2] = c22, c[o + 2 * n + 3] = c23;
      c[o + 3 * n] = c30, c[o + 3 * n + 1] = c31, c[o + 3 * n + 2] = c32, c[o + 3 * n + 3] = c33;
    } else {
      storeRow(c, o, cols, accumulate, c00, c01, c02, c03);
      if (rows > 1) storeRow(c, o + n, cols, accumulate, c10, c11, c12, c13);
      if (rows > 2) storeRow(c, o + 2 * n, cols, accumulate, c20, c21, c22, c23);
      if (rows > 3) storeRow(c, o + 3 * n, cols, accumulate, c30, c31, c32, c33);
    }
  }
}

/** Stores (or adds) the first `cols` of four sums at `c[o …]`. */
function storeRow(
  c: Float32Array,
  o: number,
  cols: number,
  accumulate: boolean,
  v0: number,
  v1: number,
  v2: number,
  v3: number,
): void {
  if (accumulate) {
    c[o] += v0;
    if (cols > 1) c[o + 1] += v1;
    if (cols > 2) c[o + 2] += v2;
    if (cols > 3) c[o + 3] += v3;
  } else {
    c[o] = v0;
    if (cols > 1) c[o + 1] = v1;
    if (cols > 2) c[o + 2] = v2;
    if (cols > 3) c[o + 3] = v3;
  }
}
