/**
 * Elementwise, strided-copy and reduction kernels on typed arrays: the reference meaning of each
 * {@linkcode UnaryOp} and {@linkcode BinaryOp}.
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
  max: (x, a) => (x > a ? x : a),
  gt: (x, a) => (x > a ? 1 : 0),
};

export function unary(op: UnaryOp, x: Float32Array, a: number, b: number, out: Float32Array): void {
  const n = x.length;
  switch (op) {
    case "affine":
      for (let i = 0; i < n; i++) out[i] = x[i] * a + b;
      return;
    case "max":
      for (let i = 0; i < n; i++) out[i] = x[i] > a ? x[i] : a;
      return;
    case "gt":
      for (let i = 0; i < n; i++) out[i] = x[i] > a ? 1 : 0;
      return;
    default: {
      const f = unaryScalar[op];
      for (let i = 0; i < n; i++) out[i] = f(x[i], a, b);
    }
  }
}

/**
 * Calls `body(aIndex, bIndex, outIndex, length)` for each contiguous run of the last axis of `shape`,
 * walking the outer axes like an odometer.
 */
function forEachRow(
  shape: readonly number[],
  aStrides: readonly number[],
  bStrides: readonly number[],
  body: (ai: number, bi: number, oi: number, len: number, as: number, bs: number) => void,
): void {
  const rank = shape.length;
  if (rank === 0) {
    body(0, 0, 0, 1, 0, 0);
    return;
  }
  const last = rank - 1;
  const len = shape[last];
  const rows = shape.reduce((p, d) => p * d, 1) / (len || 1);
  if (len === 0 || rows === 0) return;
  const idx = new Array(rank).fill(0);
  let ai = 0, bi = 0;
  for (let row = 0, oi = 0; row < rows; row++, oi += len) {
    body(ai, bi, oi, len, aStrides[last], bStrides[last]);
    for (let d = last - 1; d >= 0; d--) {
      idx[d]++;
      ai += aStrides[d];
      bi += bStrides[d];
      if (idx[d] < shape[d]) break;
      ai -= aStrides[d] * shape[d];
      bi -= bStrides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

export function binary(
  op: BinaryOp,
  a: Float32Array,
  aStrides: readonly number[],
  b: Float32Array,
  bStrides: readonly number[],
  outShape: readonly number[],
  out: Float32Array,
): void {
  forEachRow(outShape, aStrides, bStrides, (ai, bi, oi, len, as, bs) => {
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

export function strided(
  x: Float32Array,
  outShape: readonly number[],
  strides: readonly number[],
  offset: number,
  out: Float32Array,
): void {
  forEachRow(outShape, strides, strides, (xi, _bi, oi, len, xs) => {
    for (let j = 0; j < len; j++) out[oi + j] = x[offset + xi + j * xs];
  });
}

/** `x [outer, reduced, inner] -> out [outer, inner]`, summed in double precision. */
export function sum(x: Float32Array, outer: number, reduced: number, inner: number, out: Float32Array): void {
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      let acc = 0;
      const base = o * reduced;
      for (let r = 0; r < reduced; r++) acc += x[base + r];
      out[o] = acc;
    }
    return;
  }
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(0);
    const base = o * reduced * inner;
    for (let r = 0; r < reduced; r++) {
      const row = base + r * inner;
      for (let i = 0; i < inner; i++) acc[i] += x[row + i];
    }
    out.set(acc, o * inner);
  }
}
