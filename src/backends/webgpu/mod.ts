/**
 * The `webgpu` backend: every kernel of the contract in WGSL compute shaders on Deno's built-in
 * `navigator.gpu`. Pipelines are compiled once per kernel configuration, buffers are pooled, and
 * dispatches are batched into command encoders; only `download()` reads back.
 *
 * @example
 * ```ts
 * import { create } from "./mod.ts";
 * const gpu = await create();
 * console.log(gpu.description); // e.g. "WebGPU on llvmpipe (LLVM 15.0.6, 256 bits); vendor Mesa (0x10005), …"
 * ```
 *
 * @module
 */
export { create, type WebGpuOptions } from "./create.ts";
export { WebGpuBackend } from "./webgpu_backend.ts";
export { autoDecision, findMeasurement, recordMeasurement, SOFTWARE_ENV } from "./auto.ts";
export type { AutoDecision, SoftwareMeasurement } from "./auto.ts";
export type { AdapterReport } from "./_adapter.ts";
export type { KernelTime } from "./_runtime.ts";
