/**
 * Row-wise L2 normalisation, as PyTorch's `F.normalize(x, dim=1, eps)`.
 *
 * @module
 */
import { fmtShape } from "./_shape.ts";
import { clampMin, mul, rsqrt } from "./elementwise.ts";
import type { Tensor } from "./tensor.ts";

/**
 * Each row of `x [n, d]` divided by `max(‖row‖₂, eps)`. Written as `x · rsqrt(max(‖row‖², eps²))`, which is
 * the same function but has a finite gradient at a zero row.
 *
 * @example
 * ```ts
 * const unit = normalizeRows(tensor([3, 4], [1, 2])); // [[0.6, 0.8]]
 * ```
 */
export function normalizeRows(x: Tensor, eps = 1e-12): Tensor {
  if (x.rank !== 2) throw new RangeError(`normalizeRows: expects [n, d], got ${fmtShape(x.shape)}`);
  return mul(x, rsqrt(clampMin(x.square().sum(1, true), eps * eps)));
}
