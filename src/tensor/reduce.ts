/**
 * Sums and means over any set of axes. The backend only sums the middle axis of `[outer, r, inner]`,
 * so a set of axes is reduced as runs of adjacent axes, rightmost run first.
 *
 * @module
 */
import { affine } from "./elementwise.ts";
import { broadcastTo } from "./shape.ts";
import { backendOf, fmtShape, output, sizeOf, type Tensor } from "./tensor.ts";

/** Sorted, deduplicated, non-negative axes; all axes when `axes` is undefined. */
export function normalizeAxes(op: string, shape: readonly number[], axes?: number | readonly number[]): number[] {
  const rank = shape.length;
  if (axes === undefined) return shape.map((_, i) => i);
  const list = typeof axes === "number" ? [axes] : [...axes];
  const out = new Set<number>();
  for (const a of list) {
    if (!Number.isInteger(a) || a < -rank || a >= rank) {
      throw new RangeError(`${op}: axis ${a} is out of range for shape ${fmtShape(shape)}`);
    }
    out.add(a < 0 ? a + rank : a);
  }
  return [...out].sort((p, q) => p - q);
}

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
    const outer = sizeOf(shape.slice(0, first));
    const reduced = sizeOf(shape.slice(first, last + 1));
    const inner = sizeOf(shape.slice(last + 1));
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
  return affine(sum(x, ax, keepDims), 1 / count, 0);
}

/** Sums `g` down to `shape`, the shape it was broadcast from (the gradient of broadcasting). */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  return sum(g, axes, true).reshape(shape);
}

/** Row-major strides of a contiguous tensor. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}
