/**
 * 2-D convolution and its two gradients on typed arrays, as im2col + GEMM per image.
 *
 * @module
 */
import type { ConvGeometry } from "../backend.ts";
import { gemm } from "./gemm.ts";

let colScratch: Float32Array = new Float32Array(0);

function columns(size: number): Float32Array {
  if (colScratch.length < size) colScratch = new Float32Array(size);
  return colScratch;
}

/** A 1×1, stride-1, unpadded convolution is a plain matrix product: its columns are the image itself. */
function isPointwise(g: ConvGeometry): boolean {
  return g.r === 1 && g.s === 1 && g.stride === 1 && g.pad === 0;
}

/** Unfolds image `n` of `x` into `col [c*r*s, oh*ow]`. */
function im2col(x: Float32Array, n: number, g: ConvGeometry, col: Float32Array): void {
  const { c, h, w, r, s, stride, pad, oh, ow } = g;
  const plane = oh * ow;
  for (let ci = 0; ci < c; ci++) {
    const xBase = (n * c + ci) * h * w;
    for (let ky = 0; ky < r; ky++) {
      for (let kx = 0; kx < s; kx++) {
        let o = ((ci * r + ky) * s + kx) * plane;
        for (let oy = 0; oy < oh; oy++) {
          const iy = oy * stride - pad + ky;
          if (iy < 0 || iy >= h) {
            col.fill(0, o, o + ow);
            o += ow;
            continue;
          }
          const rowBase = xBase + iy * w;
          for (let ox = 0; ox < ow; ox++, o++) {
            const ix = ox * stride - pad + kx;
            col[o] = ix >= 0 && ix < w ? x[rowBase + ix] : 0;
          }
        }
      }
    }
  }
}

/** Folds `col [c*r*s, oh*ow]` back, adding into image `n` of `dx` (the adjoint of {@linkcode im2col}). */
function col2im(col: Float32Array, n: number, g: ConvGeometry, dx: Float32Array): void {
  const { c, h, w, r, s, stride, pad, oh, ow } = g;
  const plane = oh * ow;
  for (let ci = 0; ci < c; ci++) {
    const xBase = (n * c + ci) * h * w;
    for (let ky = 0; ky < r; ky++) {
      for (let kx = 0; kx < s; kx++) {
        let o = ((ci * r + ky) * s + kx) * plane;
        for (let oy = 0; oy < oh; oy++) {
          const iy = oy * stride - pad + ky;
          if (iy < 0 || iy >= h) {
            o += ow;
            continue;
          }
          const rowBase = xBase + iy * w;
          for (let ox = 0; ox < ow; ox++, o++) {
            const ix = ox * stride - pad + kx;
            if (ix >= 0 && ix < w) dx[rowBase + ix] += col[o];
          }
        }
      }
    }
  }
}

/** `y [n,k,oh,ow] = conv(x [n,c,h,w], w [k,c,r,s])`. */
export function conv2d(x: Float32Array, w: Float32Array, g: ConvGeometry, y: Float32Array): void {
  const crs = g.c * g.r * g.s;
  const plane = g.oh * g.ow;
  const pointwise = isPointwise(g);
  const col = pointwise ? x : columns(crs * plane);
  for (let n = 0; n < g.n; n++) {
    if (!pointwise) im2col(x, n, g, col);
    const colOffset = pointwise ? n * g.c * g.h * g.w : 0;
    gemm(g.k, plane, crs, false, false, {
      a: w,
      aOffset: 0,
      b: col,
      bOffset: colOffset,
      c: y,
      cOffset: n * g.k * plane,
    }, false);
  }
}

/** `dx [n,c,h,w]` from `dy [n,k,oh,ow]` and `w [k,c,r,s]`. */
export function conv2dBackwardInput(dy: Float32Array, w: Float32Array, g: ConvGeometry, dx: Float32Array): void {
  const crs = g.c * g.r * g.s;
  const plane = g.oh * g.ow;
  const pointwise = isPointwise(g);
  const col = pointwise ? dx : columns(crs * plane);
  if (!pointwise) dx.fill(0);
  for (let n = 0; n < g.n; n++) {
    gemm(crs, plane, g.k, true, false, {
      a: w,
      aOffset: 0,
      b: dy,
      bOffset: n * g.k * plane,
      c: col,
      cOffset: pointwise ? n * g.c * g.h * g.w : 0,
    }, false);
    if (!pointwise) col2im(col, n, g, dx);
  }
}

/** `dw [k,c,r,s]` from `x [n,c,h,w]` and `dy [n,k,oh,ow]`, summed over the batch. */
export function conv2dBackwardFilter(x: Float32Array, dy: Float32Array, g: ConvGeometry, dw: Float32Array): void {
  const crs = g.c * g.r * g.s;
  const plane = g.oh * g.ow;
  const pointwise = isPointwise(g);
  const col = pointwise ? x : columns(crs * plane);
  for (let n = 0; n < g.n; n++) {
    if (!pointwise) im2col(x, n, g, col);
    gemm(g.k, crs, plane, false, true, {
      a: dy,
      aOffset: n * g.k * plane,
      b: col,
      bOffset: pointwise ? n * g.c * g.h * g.w : 0,
      c: dw,
      cOffset: 0,
    }, n > 0);
  }
  if (g.n === 0) dw.fill(0);
}
