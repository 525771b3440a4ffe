/**
 * Average and max pooling with their gradients on typed arrays.
 *
 * @module
 */
import type { PoolGeometry } from "../backend.ts";

/** Calls `body(plane, oy, ox, y0, x0)` for each output position; `(y0, x0)` is the window's top-left corner. */
function forEachWindow(g: PoolGeometry, body: (plane: number, out: number, y0: number, x0: number) => void): void {
  const planes = g.n * g.c;
  for (let p = 0; p < planes; p++) {
    for (let oy = 0; oy < g.oh; oy++) {
      for (let ox = 0; ox < g.ow; ox++) {
        body(p, (p * g.oh + oy) * g.ow + ox, oy * g.stride - g.pad, ox * g.stride - g.pad);
      }
    }
  }
}

export function avgPool2d(x: Float32Array, g: PoolGeometry, y: Float32Array): void {
  const { h, w, kernel } = g;
  const area = kernel * kernel;
  forEachWindow(g, (p, o, y0, x0) => {
    let s = 0;
    for (let iy = Math.max(y0, 0); iy < Math.min(y0 + kernel, h); iy++) {
      for (let ix = Math.max(x0, 0); ix < Math.min(x0 + kernel, w); ix++) s += x[(p * h + iy) * w + ix];
    }
    y[o] = s / area;
  });
}

export function avgPool2dBackward(dy: Float32Array, g: PoolGeometry, dx: Float32Array): void {
  const { h, w, kernel } = g;
  const area = kernel * kernel;
  dx.fill(0);
  forEachWindow(g, (p, o, y0, x0) => {
    const d = dy[o] / area;
    for (let iy = Math.max(y0, 0); iy < Math.min(y0 + kernel, h); iy++) {
      for (let ix = Math.max(x0, 0); ix < Math.min(x0 + kernel, w); ix++) dx[(p * h + iy) * w + ix] += d;
    }
  });
}

/** Index into `x` of the first maximum (NaN wins, as in PyTorch) of a window, or -1 if the window is all padding. */
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
        if (Number.isNaN(v)) return at;
      }
    }
  }
  return at;
}

export function maxPool2d(x: Float32Array, g: PoolGeometry, y: Float32Array): void {
  forEachWindow(g, (p, o, y0, x0) => {
    const i = argmax(x, g, p, y0, x0);
    y[o] = i < 0 ? -Infinity : x[i];
  });
}

export function maxPool2dBackward(x: Float32Array, dy: Float32Array, g: PoolGeometry, dx: Float32Array): void {
  dx.fill(0);
  forEachWindow(g, (p, o, y0, x0) => {
    const i = argmax(x, g, p, y0, x0);
    if (i >= 0) dx[i] += dy[o];
  });
}

export function maxPool2dGather(x: Float32Array, ddx: Float32Array, g: PoolGeometry, out: Float32Array): void {
  forEachWindow(g, (p, o, y0, x0) => {
    const i = argmax(x, g, p, y0, x0);
    out[o] = i < 0 ? 0 : ddx[i];
  });
}
