/**
 * @at/core — attention transfer and knowledge distillation for convolutional networks, on the CPU,
 * WebGPU or cuDNN, with the same pure functions.
 *
 * @example
 * ```ts
 * import { at, atLoss, kdLoss, tensor, useBackend, wrn } from "@at/core";
 *
 * await useBackend("auto");
 * const net = wrn({ depth: 16, width: 1, numClasses: 10 });
 * const { params, stats } = net.init(0);
 * ```
 *
 * @module
 */
export * from "./src/tensor/mod.ts";
export { normalizeRows } from "./src/tensor/normalize.ts";
export { at, atLoss } from "./src/at.ts";
export type { AtLossOptions, AttentionOptions } from "./src/at.ts";
export { kdLoss } from "./src/kd.ts";
export type { KdOptions } from "./src/kd.ts";
export { flipSymmetryLoss, gradientAtLoss, gradientAttention } from "./src/gradient_at.ts";
export type { GradientAttentionOptions } from "./src/gradient_at.ts";
export { fullActivationLoss } from "./src/full_activation.ts";
export { checkWrnConfig, wrn, wrnParameterCount } from "./src/nn/wrn.ts";
export type { WrnConfig } from "./src/nn/wrn.ts";
export { detectResnetLayout, resnet, RESNET_BLOCKS, resnetOf } from "./src/nn/resnet.ts";
export type { DetectedResnet, ResnetConfig, ResnetLayout } from "./src/nn/resnet.ts";
export { nin } from "./src/nn/nin.ts";
export type { NinConfig } from "./src/nn/nin.ts";
export type { ApplyOptions, Network, NetworkOutput } from "./src/nn/network.ts";
export { checkRecord, countScalars, isRunningStat, splitParams } from "./src/nn/params.ts";
export type { TensorRecord } from "./src/nn/params.ts";
export { sgdInit, sgdStep } from "./src/nn/sgd.ts";
export type { SgdState } from "./src/nn/sgd.ts";
export { stepLr } from "./src/nn/schedule.ts";
export type { StepLrOptions } from "./src/nn/schedule.ts";
export { kaimingNormal } from "./src/nn/init.ts";
export { parseSafetensors, serializeSafetensors } from "./src/io/safetensors.ts";
export type { Dtype, Safetensors, StoredTensor, TensorToWrite } from "./src/io/safetensors.ts";
export { loadTensors, saveTensors } from "./src/io/tensors.ts";
export { ALLOWED_GLOBALS, loadPth, parsePth } from "./src/io/pth.ts";
export type { PthFile } from "./src/io/pth.ts";
export { writeFileAtomic } from "./src/io/atomic.ts";
export { Rng } from "./src/rng.ts";
export type { RngState } from "./src/rng.ts";
export { BACKEND_NAMES } from "./src/backends/registry.ts";
export type { BackendChoice, BackendName, BackendRequest } from "./src/backends/registry.ts";
export type {
  Backend,
  BatchNormGeometry,
  BatchNormGrads,
  BatchNormTrainResult,
  BinaryOp,
  ConvGeometry,
  DeviceBuffer,
  PoolGeometry,
  SgdOptions,
  UnaryOp,
} from "./src/backends/backend.ts";
