/**
 * In-place parameter updates. Outside autograd: they change the memory of existing tensors.
 *
 * @module
 */
import type { SgdOptions } from "../backends/backend.ts";
import { numberRule, type OptionRule, optionsChecker, required } from "../_options.ts";
import { fmtShape, sameShape } from "./_shape.ts";
import { backendOf, type Tensor } from "./tensor.ts";

/** The rules of {@linkcode SgdOptions}, as PyTorch's SGD checks them: every one given, finite and ≥ 0. */
export const SGD_OPTION_RULES: Readonly<Record<keyof SgdOptions, OptionRule>> = {
  lr: required(numberRule({ min: 0 })),
  momentum: required(numberRule({ min: 0 })),
  weightDecay: required(numberRule({ min: 0 })),
};
const checkSgdOptions = optionsChecker<SgdOptions>("sgdUpdate", SGD_OPTION_RULES);

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
  checkSgdOptions(options);
  const be = backendOf("sgdUpdate", param, grad, momentumBuffer);
  if (!sameShape(grad.shape, param.shape) || !sameShape(momentumBuffer.shape, param.shape)) {
    throw new RangeError(
      `sgdUpdate: param ${fmtShape(param.shape)}, grad ${fmtShape(grad.shape)} and momentum buffer ${
        fmtShape(momentumBuffer.shape)
      } must have one shape`,
    );
  }
  be.sgdUpdate(param.buffer, grad.buffer, momentumBuffer.buffer, options);
}
