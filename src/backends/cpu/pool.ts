/**
 * Average and max pooling with their gradients on typed arrays. Each kernel computes the planes (image ×
 * channel) `[lo, hi)`, all by default; planes are independent, so cutting them between threads changes
 * nothing.
 *
 * @module
 */
import type { PoolGeometry } from "../backend.ts";

/**
 * Calls `body(plane, out, y0, x0)` for each output position of planes `[lo, hi)`; `(y0, x0)` is the window's
 * top-left corner.
 */
function forEachWindow(
  g: PoolGeometry,
  lo: number,
  hi: number,
  body: (plane: number, out: number, y0: number, x0: number) => void,
): void {
  for (let p = lo; p < hi; p++) {
    for (let oy = 0; oy < g.oh; oy++) {
      for (let ox = 0; ox < g.ow; ox++) {
        body(p, (p * g.oh + oy) * g.ow + ox, oy * g.stride - g.pad, ox * g.stride - g.pad);
      }
    }
  }
}

/** Average pooling, padding counted in the divisor, for planes `[lo, hi)`. */
export function avgPool2d(x: Float32Array, g: PoolGeometry, y: Float32Array, lo = 0, hi: number = g.n * g.c): void {
  const { h, w, kernel } = g;
  const area = kernel * kernel;
  forEachWindow(g, lo, hi, (p, o, y0, x0) => {
    let s = 0;
    for (let iy = Math.max(y0, 0); iy < Math.min(y0 + kernel, h); iy++) {
      for (let ix = Math.max(x0, 0); ix < Math.min(x0 + kernel, w); ix++) s += x[(p * h + iy) * w + ix];
    }
    y[o] = s / area;
  });
}

/** Gradient of {@linkcode avgPool2d}: each `dy` spread evenly over its window, for planes `[lo, hi)`. */
export function avgPool2dBackward(
  dy: Float32Array,
  g: PoolGeometry,
  dx: Float32Array,
  lo = 0,
  hi: number = g.n * g.c,
): void {
  const { h, w, kernel } = g;
  const area = kernel * kernel;
  dx.fill(0, lo * h * w, hi * h * w);
  forEachWindow(g, lo, hi, (p, o, y0, x0) => {
    const d = dy[o] / area;
    for (let iy = Math.max(y0, 0); iy < Math.min(y0 + kernel, h); iy++) {
      for (let ix = Math.max(x0, 0); ix < Math.min(x0 + kernel, w); ix++) dx[(p * h + iy) * w + ix] += d;
    }
  });
}

/**
 * Index into `x` of the first maximum of a window, or of its last NaN when it holds any (PyTorch's loop: each
 * NaN replaces the running maximum, and only a NaN replaces a NaN), or -1 if the window is all padding.
 */
function argmax(x: Float32Array, g: PoolGeometry, p: number, y0: number, x0: number): number {
  const { h, w, kernel } = g;
  let best = -Infinity, at = -1;
  for (let iy = Math.max(y0, 0); iy < Math.min(y0 + kernel, h); iy++) {
    for (let ix = Math.max(x0, 0); ix < Math.min(x0 + kernel, w); ix++) {
      const i = (p * h + iy) * w + ix;
      const v = x[i];
      if (at < 0 || v > best || Number.isNaN(v)) {
        best = v;
        at = i;
      }
    }
  }
  return at;
}

/** Max pooling (the maximum of each window; NaN wins), for planes `[lo, hi)`. */
export function maxPool2d(x: Float32Array, g: PoolGeometry, y: Float32Array, lo = 0, hi: number = g.n * g.c): void {
  forEachWindow(g, lo, hi, (p, o, y0, x0) => {
    const i = argmax(x, g, p, y0, x0);
    y[o] = i < 0 ? -Infinity : x[i];
  });
}

/** Gradient of {@linkcode maxPool2d}: each `dy` routed to its window's {@linkcode argmax}, for planes `[lo, hi)`. */
export function maxPool2dBackward(
  x: Float32Array,
  dy: Float32Array,
  g: PoolGeometry,
  dx: Float32Array,
  lo = 0,
  hi: number = g.n * g.c,
): void {
  dx.fill(0, lo * g.h * g.w, hi * g.h * g.w);
  forEachWindow(g, lo, hi, (p, o, y0, x0) => {
    const i = argmax(x, g, p, y0, x0);
    if (i >= 0) dx[i] += dy[o];
  });
}

/** `ddx` gathered at each window's {@linkcode argmax} (double backward of max pooling), for planes `[lo, hi)`. */
export function maxPool2dGather(
  x: Float32Array,
  ddx: Float32Array,
  g: PoolGeometry,
  out: Float32Array,
  lo = 0,
  hi: number = g.n * g.c,
): void {
  forEachWindow(g, lo, hi, (p, o, y0, x0) => {
    const i = argmax(x, g, p, y0, x0);
    out[o] = i < 0 ? 0 : ddx[i];
  });
}
