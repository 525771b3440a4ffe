/**
 * The SGD-with-momentum-and-weight-decay update in place, PyTorch semantics.
 *
 * @module
 */
import type { SgdOptions } from "../backend.ts";

export function sgdUpdate(param: Float32Array, grad: Float32Array, momentumBuffer: Float32Array, o: SgdOptions): void {
  const { lr, momentum, weightDecay } = o;
  for (let i = 0; i < param.length; i++) {
    // Rounded to float32 at each stage, as PyTorch's float32 kernels do.
    const d = Math.fround(grad[i] + weightDecay * param[i]);
    const m = Math.fround(momentum * momentumBuffer[i] + d);
    momentumBuffer[i] = m;
    param[i] = param[i] - lr * m;
  }
}
