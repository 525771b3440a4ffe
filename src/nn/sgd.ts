/**
 * SGD with momentum and weight decay over a record of parameters, PyTorch semantics.
 *
 * @module
 */
import type { SgdOptions } from "../backends/backend.ts";
import { sgdUpdate } from "../tensor/optim.ts";
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

/** One step in place on every parameter (weight decay applies to all, batch-norm scales and biases too). */
export function sgdStep(params: TensorRecord, grads: TensorRecord, state: SgdState, options: SgdOptions): void {
  for (const [name, p] of Object.entries(params)) {
    const g = grads[name];
    const m = state[name];
    if (!g || !m) throw new Error(`sgdStep: no ${g ? "momentum buffer" : "gradient"} for parameter ${name}`);
    sgdUpdate(p, g, m, options);
  }
}
