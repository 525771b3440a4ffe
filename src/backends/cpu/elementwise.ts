/**
 * Elementwise, strided-copy and reduction kernels on typed arrays: the reference meaning of each
 * {@linkcode UnaryOp} and {@linkcode BinaryOp}. Each kernel computes the output elements `[lo, hi)` (all of
 * them by default), so a caller can cut the work between threads; no output element depends on the cut.
 *
 * @module
 */
import type { BinaryOp, UnaryOp } from "../backend.ts";

/** The scalar meaning of each unary op; every backend must agree with these. */
export const unaryScalar: Record<UnaryOp, (x: number, a: number, b: number) => number> = {
  affine: (x, a, b) => x * a + b,
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  sqrt: (x) => Math.sqrt(x),
  rsqrt: (x) => 1 / Math.sqrt(x),
  abs: (x) => Math.abs(x),
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0),
  pow: (x, a) => x ** a,
  max: (x, a) => (x > a || Number.isNaN(x) ? x : a),
  gt: (x, a, b) => (x > a ? 1 : Number.isNaN(x) ? b : 0),
};

/** `out[i] = op(x[i], a, b)` for `i` in `[lo, hi)`, with the meaning of {@linkcode unaryScalar}. */
export function unary(
  op: UnaryOp,
  x: Float32Array,
  a: number,
  b: number,
  out: Float32Array,
  lo = 0,
  hi: number = x.length,
): void {
  // The common ops get their own loops; each branch stores its own value (a select of a float and a
  // parameter would make V8 box every element).
  switch (op) {
    case "affine":
      for (let i = lo; i < hi; i++) out[i] = x[i] * a + b;
      return;
    case "max":
      if (Object.is(a, 0)) return reluBits(x, out, lo, hi);
      for (let i = lo; i < hi; i++) {
        const v = x[i];
        if (v > a || v !== v) out[i] = v;
        else out[i] = a;
      }
      return;
    case "gt":
      if (Object.is(a, 0) && (b === 0 || b === 1)) return positiveBits(x, out, lo, hi, b);
      for (let i = lo; i < hi; i++) {
        const v = x[i];
        if (v > a) out[i] = 1;
        else if (v !== v) out[i] = b;
        else out[i] = 0;
      }
      return;
    default: {
      const f = unaryScalar[op];
      for (let i = lo; i < hi; i++) out[i] = f(x[i], a, b);
    }
  }
}

/**
 * The float32 bit patterns `b` with `x > 0`: `0 < b ≤ 0x7f800000` as int32 (positive, up to +∞; NaNs lie
 * above, negatives and −0 below zero). NaNs are the patterns with `b & 0x7fffffff > 0x7f800000`.
 * Branch-free tests on the bits beat a compare on random signs (V8 compiles the compare to a mispredicted
 * jump) by about eight times.
 */
const POSITIVE_INFINITY_BITS = 0x7f800000;
const ONE_BITS = 0x3f800000;

/** All ones (−1) where the bits `b` are a NaN, else 0. */
function nanMask(b: number): number {
  return (POSITIVE_INFINITY_BITS - (b & 0x7fffffff)) >> 31;
}

function intView(a: Float32Array): Int32Array {
  return new Int32Array(a.buffer, a.byteOffset, a.length);
}

/**
 * `max(x, 0)` as {@linkcode unaryScalar} defines it: keeps the bits where `x > 0` or `x` is NaN (of either
 * sign), else +0.
 */
function reluBits(x: Float32Array, out: Float32Array, lo: number, hi: number): void {
  const xi = intView(x), oi = intView(out);
  for (let i = lo; i < hi; i++) {
    const b = xi[i];
    // Zero where the sign bit is set and the bits are no NaN.
    oi[i] = b & ~((b >> 31) & ~nanMask(b));
  }
}

/** `x > 0 ? 1 : 0` on the bits, as {@linkcode reluBits}, and `nan` (0 or 1) where `x` is NaN. */
function positiveBits(x: Float32Array, out: Float32Array, lo: number, hi: number, nan: number): void {
  const xi = intView(x), oi = intView(out);
  const nanBits = nan === 1 ? ONE_BITS : 0;
  for (let i = lo; i < hi; i++) {
    const b = xi[i];
    const above = (POSITIVE_INFINITY_BITS - b) | 0;
    // Sign bit of `(b - 1) | above` set iff b ≤ 0 (as int32, −0 included through `above`) or b > +∞.
    oi[i] = (ONE_BITS & ~((((b - 1) | 0) | above) >> 31)) | (nanBits & nanMask(b));
  }
}

/** A broadcast walk with adjacent axes merged where both operands step through them contiguously. */
interface Walk {
  readonly shape: number[];
  readonly aStrides: number[];
  readonly bStrides: number[];
}

/** Merges axis `d` into axis `d + 1` wherever `stride[d] = stride[d+1] · shape[d+1]` for both operands. */
function coalesce(shape: readonly number[], aStrides: readonly number[], bStrides: readonly number[]): Walk {
  const walk: Walk = { shape: [], aStrides: [], bStrides: [] };
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = walk.shape.length - 1;
    if (
      last >= 0 && walk.aStrides[last] === aStrides[d] * shape[d] && walk.bStrides[last] === bStrides[d] * shape[d]
    ) {
      walk.shape[last] *= shape[d];
      walk.aStrides[last] = aStrides[d];
      walk.bStrides[last] = bStrides[d];
    } else {
      walk.shape.push(shape[d]);
      walk.aStrides.push(aStrides[d]);
      walk.bStrides.push(bStrides[d]);
    }
  }
  if (walk.shape.length === 0) walk.shape.push(1), walk.aStrides.push(0), walk.bStrides.push(0);
  return walk;
}

/**
 * Calls `body(aIndex, bIndex, outIndex, length, aStride, bStride)` for each contiguous run of the last
 * (merged) axis of `shape` that meets the flat output range `[lo, hi)`, walking the outer axes like an
 * odometer.
 */
function forEachRow(
  shape: readonly number[],
  aStrides: readonly number[],
  bStrides: readonly number[],
  lo: number,
  hi: number,
  body: (ai: number, bi: number, oi: number, len: number, as: number, bs: number) => void,
): void {
  if (lo >= hi) return;
  const walk = coalesce(shape, aStrides, bStrides);
  const rank = walk.shape.length, last = rank - 1;
  const len = walk.shape[last], as = walk.aStrides[last], bs = walk.bStrides[last];
  // The odometer at the row holding `lo`.
  const idx = new Array<number>(rank).fill(0);
  let ai = 0, bi = 0;
  for (let d = last - 1, rest = Math.floor(lo / len); d >= 0; d--) {
    idx[d] = rest % walk.shape[d];
    rest = Math.floor(rest / walk.shape[d]);
    ai += idx[d] * walk.aStrides[d];
    bi += idx[d] * walk.bStrides[d];
  }
  for (let oi = lo - (lo % len); oi < hi; oi += len) {
    const from = Math.max(lo - oi, 0), to = Math.min(hi - oi, len);
    body(ai + from * as, bi + from * bs, oi + from, to - from, as, bs);
    for (let d = last - 1; d >= 0; d--) {
      idx[d]++;
      ai += walk.aStrides[d];
      bi += walk.bStrides[d];
      if (idx[d] < walk.shape[d]) break;
      ai -= walk.aStrides[d] * walk.shape[d];
      bi -= walk.bStrides[d] * walk.shape[d];
      idx[d] = 0;
    }
  }
}

/** `out[i] = a[ia(i)] op b[ib(i)]` over `outShape`, for output elements `[lo, hi)`. */
export function binary(
  op: BinaryOp,
  a: Float32Array,
  aStrides: readonly number[],
  b: Float32Array,
  bStrides: readonly number[],
  outShape: readonly number[],
  out: Float32Array,
  lo = 0,
  hi: number = out.length,
): void {
  forEachRow(outShape, aStrides, bStrides, lo, hi, (ai, bi, oi, len, as, bs) => {
    if (as === 1 && bs === 1) {
      binaryContiguous(op, a, ai, b, bi, out, oi, len);
      return;
    }
    switch (op) {
      case "add":
        for (let j = 0; j < len; j++) out[oi + j] = a[ai + j * as] + b[bi + j * bs];
        return;
      case "sub":
        for (let j = 0; j < len; j++) out[oi + j] = a[ai + j * as] - b[bi + j * bs];
        return;
      case "mul":
        for (let j = 0; j < len; j++) out[oi + j] = a[ai + j * as] * b[bi + j * bs];
        return;
      case "div":
        for (let j = 0; j < len; j++) out[oi + j] = a[ai + j * as] / b[bi + j * bs];
        return;
    }
  });
}

/** The unit-stride case of {@linkcode binary}: the common one (same shapes), without index multiplies. */
function binaryContiguous(
  op: BinaryOp,
  a: Float32Array,
  ai: number,
  b: Float32Array,
  bi: number,
  out: Float32Array,
  oi: number,
  len: number,
): void {
  const shift = ai - oi, bShift = bi - oi;
  switch (op) {
    case "add":
      for (let i = oi; i < oi + len; i++) out[i] = a[i + shift] + b[i + bShift];
      return;
    case "sub":
      for (let i = oi; i < oi + len; i++) out[i] = a[i + shift] - b[i + bShift];
      return;
    case "mul":
      for (let i = oi; i < oi + len; i++) out[i] = a[i + shift] * b[i + bShift];
      return;
    case "div":
      for (let i = oi; i < oi + len; i++) out[i] = a[i + shift] / b[i + bShift];
      return;
  }
}

/** Strided gather `out[idx] = x[offset + Σ idx[d]·strides[d]]` over `outShape`, for output elements `[lo, hi)`. */
export function strided(
  x: Float32Array,
  outShape: readonly number[],
  strides: readonly number[],
  offset: number,
  out: Float32Array,
  lo = 0,
  hi: number = out.length,
): void {
  forEachRow(outShape, strides, strides, lo, hi, (xi, _bi, oi, len, xs) => {
    const from = offset + xi;
    if (xs === 1) { for (let j = 0; j < len; j++) out[oi + j] = x[from + j]; }
    else for (let j = 0; j < len; j++) out[oi + j] = x[from + j * xs];
  });
}

/**
 * `x [outer, reduced, inner] -> out [outer, inner]`, summed in double precision over the reduced axis in
 * order, for output elements `[lo, hi)`.
 */
export function sum(
  x: Float32Array,
  outer: number,
  reduced: number,
  inner: number,
  out: Float32Array,
  lo = 0,
  hi: number = outer * inner,
): void {
  if (inner === 1) {
    for (let o = lo; o < hi; o++) {
      let acc = 0;
      const base = o * reduced;
      for (let r = 0; r < reduced; r++) acc += x[base + r];
      out[o] = acc;
    }
    return;
  }
  // Whole rows of `inner` at a time, so the reads stay contiguous; `acc` holds one row's sums.
  const acc = new Float64Array(Math.min(inner, hi - lo));
  for (let start = lo; start < hi;) {
    const o = Math.floor(start / inner), i0 = start % inner, i1 = Math.min(inner, i0 + hi - start);
    acc.fill(0);
    const base = o * reduced * inner;
    for (let r = 0; r < reduced; r++) {
      const row = base + r * inner;
      for (let i = i0; i < i1; i++) acc[i - i0] += x[row + i];
    }
    for (let i = i0; i < i1; i++) out[o * inner + i] = acc[i - i0];
    start += i1 - i0;
  }
}
