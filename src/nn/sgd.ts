/**
 * SGD with momentum and weight decay over a record of parameters, PyTorch semantics.
 *
 * @module
 */
import type { SgdOptions } from "../backends/backend.ts";
import { optionsChecker } from "../_options.ts";
import { fmtShape, sameShape } from "../tensor/_shape.ts";
import { SGD_OPTION_RULES, sgdUpdate } from "../tensor/optim.ts";
import { zeros } from "../tensor/tensor.ts";
import type { TensorRecord } from "./params.ts";

/** Momentum buffers, one per parameter name. */
export type SgdState = TensorRecord;

/**
 * Zero momentum buffers for `params`: the first step then sets each buffer to its gradient, as PyTorch does.
 *
 * @example
 * ```ts
 * const state = sgdInit(params);
 * sgdStep(params, grads, state, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
 * ```
 */
export function sgdInit(params: TensorRecord): SgdState {
  return Object.fromEntries(Object.entries(params).map(([k, p]) => [k, zeros(p.shape)]));
}

const checkSgdOptions = optionsChecker<SgdOptions>("sgdStep", SGD_OPTION_RULES);

/**
 * One step in place on every parameter (weight decay applies to all, batch-norm scales and biases too). `lr`,
 * `momentum` and `weightDecay` must all be given, finite and ≥ 0; each gradient and momentum buffer must have its
 * parameter's shape.
 */
export function sgdStep(params: TensorRecord, grads: TensorRecord, state: SgdState, options: SgdOptions): void {
  checkSgdOptions(options);
  for (const [name, p] of Object.entries(params)) {
    const g = Object.hasOwn(grads, name) ? grads[name] : undefined;
    const m = Object.hasOwn(state, name) ? state[name] : undefined;
    if (!g || !m) throw new Error(`sgdStep: no ${g ? "momentum buffer" : "gradient"} for parameter ${name}`);
    for (const [what, t] of [["gradient", g], ["momentum buffer", m]] as const) {
      if (!sameShape(t.shape, p.shape)) {
        throw new RangeError(
          `sgdStep: the ${what} of ${name} has shape ${fmtShape(t.shape)} but the parameter has ${fmtShape(p.shape)}`,
        );
      }
    }
    sgdUpdate(p, g, m, options);
  }
}
