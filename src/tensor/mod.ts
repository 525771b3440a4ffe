/**
 * The tensor front end: tensors, differentiable operations, autograd, memory scopes and backend choice.
 *
 * @module
 */
export { elementCount } from "../backends/backend.ts";
export { full, scalar, Tensor, tensor, zeros } from "./tensor.ts";
export type { GradNode } from "./tensor.ts";
export {
  abs,
  add,
  affine,
  clampMin,
  div,
  exp,
  greaterThan,
  log,
  mul,
  neg,
  pow,
  relu,
  rsqrt,
  sign,
  sqrt,
  square,
  sub,
} from "./elementwise.ts";
export { broadcastTo, mean, sum } from "./reduce.ts";
export { permute, reshape } from "./shape.ts";
export { flipHorizontal } from "./flip.ts";
export { linear, matmul, matmulT } from "./linalg.ts";
export type { MatmulOptions } from "./linalg.ts";
export { conv2d, conv2dBackwardFilter, conv2dBackwardInput, convGeometry } from "./conv.ts";
export type { Conv2dOptions } from "./conv.ts";
export { batchNorm } from "./norm.ts";
export type { BatchNormOptions, BatchNormParams, BatchNormResult } from "./norm.ts";
export { avgPool2d, maxPool2d } from "./pool.ts";
export type { Pool2dOptions } from "./pool.ts";
export { crossEntropy, logSoftmax, oneHot, softmax } from "./softmax.ts";
export { sgdUpdate } from "./optim.ts";
export { grad, gradients, noGrad, valueAndGrad } from "./autograd.ts";
export type { GradientsOptions, GradOptions, GradsOf, LossResult, Params, ValueAndGrad } from "./autograd.ts";
export { tidy } from "./memory.ts";
export { BACKEND_ENV, getBackend, setBackend, useBackend } from "./device.ts";
