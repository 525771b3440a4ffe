/**
 * Shape operations: reshape (a view, no copy), permute and broadcast (strided copies).
 *
 * @module
 */
import { broadcastShapes, broadcastStrides } from "./elementwise.ts";
import { contiguousStrides, sumTo } from "./reduce.ts";
import { backendOf, fmtShape, output, record, sizeOf, type Tensor } from "./tensor.ts";

/** Resolves one `-1` in `shape` against `size` elements, or throws naming both shapes. */
export function resolveShape(op: string, from: readonly number[], shape: readonly number[]): number[] {
  const size = sizeOf(from);
  const known = shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const holes = shape.filter((d) => d === -1).length;
  const out = shape.map((d) => (d === -1 ? size / known : d));
  if (holes > 1 || out.some((d) => !Number.isInteger(d) || d < 0) || sizeOf(out) !== size) {
    throw new RangeError(`${op}: cannot view shape ${fmtShape(from)} (${size} elements) as ${fmtShape(shape)}`);
  }
  return out;
}

/**
 * The same elements in another shape (one axis may be -1). Shares memory with `x`.
 *
 * @example
 * ```ts
 * const flat = tensor([1, 2, 3, 4, 5, 6], [2, 3]).reshape([-1]); // shape [6]
 * ```
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = resolveShape("reshape", x.shape, shape);
  return record(x.view(s), "reshape", [x], (g) => [reshape(g, x.shape)]);
}

/** Reorders axes: output axis `i` is input axis `axes[i]`. */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  const be = backendOf("permute", x);
  const ok = axes.length === x.rank && [...axes].sort((a, b) => a - b).every((a, i) => a === i);
  if (!ok) {
    throw new RangeError(
      `permute: axes [${axes.join(", ")}] are not a permutation of the axes of ${fmtShape(x.shape)}`,
    );
  }
  const strides = contiguousStrides(x.shape);
  const shape = axes.map((a) => x.shape[a]);
  const inverse = axes.map((_, i) => axes.indexOf(i));
  const buf = be.strided(x.buffer, shape, axes.map((a) => strides[a]), 0);
  return output(be, buf, shape, "permute", [x], (g) => [permute(g, inverse)]);
}

/** Repeats `x` along axes of size 1 (and new leading axes) to `shape`. */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const be = backendOf("broadcastTo", x);
  const target = broadcastShapes("broadcastTo", x.shape, shape);
  if (target.length !== shape.length || target.some((d, i) => d !== shape[i])) {
    throw new RangeError(`broadcastTo: cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  }
  const buf = be.strided(x.buffer, shape, broadcastStrides(x.shape, shape), 0);
  return output(be, buf, shape, "broadcastTo", [x], (g) => [sumTo(g, x.shape)]);
}
