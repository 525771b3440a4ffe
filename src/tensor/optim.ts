/**
 * In-place parameter updates. Outside autograd: they change the memory of existing tensors.
 *
 * @module
 */
import type { SgdOptions } from "../backends/backend.ts";
import { backendOf, fmtShape, type Tensor } from "./tensor.ts";

/**
 * One SGD step in place, PyTorch semantics: `d = grad + weightDecay·param`,
 * `momentumBuffer = momentum·momentumBuffer + d`, `param -= lr·momentumBuffer`. Start the buffer at
 * zeros: the first step then sets it to `d`, as PyTorch does.
 *
 * @example
 * ```ts
 * sgdUpdate(w, dw, buf, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
 * ```
 */
export function sgdUpdate(param: Tensor, grad: Tensor, momentumBuffer: Tensor, options: SgdOptions): void {
  const be = backendOf("sgdUpdate", param, grad, momentumBuffer);
  if (grad.size !== param.size || momentumBuffer.size !== param.size) {
    throw new RangeError(
      `sgdUpdate: param ${fmtShape(param.shape)}, grad ${fmtShape(grad.shape)} and momentum buffer ${
        fmtShape(momentumBuffer.shape)
      } must have one size`,
    );
  }
  be.sgdUpdate(param.buffer, grad.buffer, momentumBuffer.buffer, options);
}
