/**
 * Shape operations: reshape (a view, no copy) and permute (a strided copy), each its own gradient. Broadcasting
 * lives with its adjoint, the sum, in `reduce.ts`.
 *
 * @module
 */
import { contiguousStrides, fmtShape, resolveShape } from "./_shape.ts";
import { backendOf, output, record, type Tensor } from "./tensor.ts";

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
