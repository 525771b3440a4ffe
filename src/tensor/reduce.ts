/**
 * Sums and means over any set of axes, and broadcasting, the sum's adjoint: the gradient of a sum is a
 * broadcast and the gradient of a broadcast is a sum, so the pair lives in one file and differentiates any
 * number of times. The backend only sums the middle axis of `[outer, r, inner]`, so a set of axes is reduced
 * as runs of adjacent axes, rightmost run first.
 *
 * @module
 */
import { elementCount } from "../backends/backend.ts";
import { broadcastShapes, broadcastStrides, contiguousStrides, fmtShape, normalizeAxes, sameShape } from "./_shape.ts";
import { backendOf, output, type Tensor } from "./tensor.ts";

/**
 * Sum over `axes` (all when omitted); `keepDims` keeps them with size 1.
 *
 * @example
 * ```ts
 * const x = tensor([1, 2, 3, 4], [2, 2]);
 * await x.sum(1).data(); // Float32Array [3, 7]
 * ```
 */
export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const be = backendOf("sum", x);
  const ax = normalizeAxes("sum", x.shape, axes);
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  let shape = [...x.shape];
  let buf = x.buffer;
  let owned = false;
  // Reduce runs of adjacent axes, rightmost first, so earlier axis numbers stay valid.
  for (let end = ax.length - 1; end >= 0;) {
    let start = end;
    while (start > 0 && ax[start - 1] === ax[start] - 1) start--;
    const first = ax[start], last = ax[end];
    const outer = elementCount(shape.slice(0, first));
    const reduced = elementCount(shape.slice(first, last + 1));
    const inner = elementCount(shape.slice(last + 1));
    const next = be.sum(buf, outer, reduced, inner);
    if (owned) be.free(buf);
    buf = next;
    owned = true;
    shape = [...shape.slice(0, first), 1, ...shape.slice(last + 1)];
    end = start - 1;
  }
  if (!owned) buf = be.strided(buf, x.shape, contiguousStrides(x.shape), 0);
  const outShape = keepDims ? kept : x.shape.filter((_, i) => !ax.includes(i));
  return output(be, buf, outShape, "sum", [x], (g) => [broadcastTo(g.reshape(kept), x.shape)]);
}

/** Mean over `axes` (all when omitted). */
export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const ax = normalizeAxes("mean", x.shape, axes);
  const count = ax.reduce((p, a) => p * x.shape[a], 1);
  // The method is `affine(·, 1 / count, 0)`; calling it through the tensor keeps this file free of an import of
  // elementwise.ts, which imports `sumTo` from here.
  return sum(x, ax, keepDims).mul(1 / count);
}

/** Sums `g` down to `shape`, the shape it was broadcast from (the gradient of broadcasting). */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  return sum(g, axes, true).reshape(shape);
}

/** Repeats `x` along axes of size 1 (and new leading axes) to `shape`. */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const be = backendOf("broadcastTo", x);
  const target = broadcastShapes("broadcastTo", x.shape, shape);
  if (!sameShape(target, shape)) {
    throw new RangeError(`broadcastTo: cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  }
  const buf = be.strided(x.buffer, shape, broadcastStrides(x.shape, shape), 0);
  return output(be, buf, shape, "broadcastTo", [x], (g) => [sumTo(g, x.shape)]);
}
