/**
 * The SGD-with-momentum-and-weight-decay update in place, PyTorch semantics.
 *
 * @module
 */
import type { SgdOptions } from "../backend.ts";

/** One SGD step in place over the elements `[lo, hi)` (all by default). */
export function sgdUpdate(
  param: Float32Array,
  grad: Float32Array,
  momentumBuffer: Float32Array,
  o: SgdOptions,
  lo = 0,
  hi: number = param.length,
): void {
  const { lr, momentum, weightDecay } = o;
  for (let i = lo; i < hi; i++) {
    // Rounded to float32 at each stage, as PyTorch's float32 kernels do.
    const d = Math.fround(grad[i] + weightDecay * param[i]);
    const m = Math.fround(momentum * momentumBuffer[i] + d);
    momentumBuffer[i] = m;
    param[i] = param[i] - lr * m;
  }
}
